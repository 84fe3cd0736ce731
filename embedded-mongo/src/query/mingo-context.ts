import { Context, ProcessingMode } from 'mingo/core';
import * as accumulatorOperators from 'mingo/operators/accumulator';
import * as expressionOperators from 'mingo/operators/expression';
import * as pipelineOperators from 'mingo/operators/pipeline';
import * as projectionOperators from 'mingo/operators/projection';
import * as queryOperators from 'mingo/operators/query';
import * as windowOperators from 'mingo/operators/window';
import type { Options } from 'mingo/types';
import { accumulatorOperators as accumulators, expressionOperators as expressions, group } from './expressions';
import { elemMatchProjection } from './elem-match-projection';
import { leafOperators } from './leaf-operators';

let options: Options | undefined;

/**
 * The one set of options every mingo call here uses. mingo's own leaf query operators compare BSON
 * values by their JavaScript type (a Long is not a number, two Decimal128s compare as strings,
 * `{ 'a.b': null }` misses documents MongoDB matches), so they are replaced by ours through mingo's
 * extension point, a Context; so are the aggregation operators whose answers differ from MongoDB's
 * (see expressions.ts). The other stages and expressions stay mingo's. Built on first use because the leaf operators themselves build
 * sub-queries with these options.
 */
export function mingoOptions(): Options {
  options ??= {
    idKey: '_id',
    processingMode: ProcessingMode.CLONE_OFF,
    useStrictMode: true,
    scriptEnabled: false,
    failOnError: true,
    context: Context.init({
      query: { ...(queryOperators as object), ...leafOperators } as never,
      accumulator: { ...(accumulatorOperators as object), ...accumulators } as never,
      expression: { ...(expressionOperators as object), ...expressions } as never,
      pipeline: { ...(pipelineOperators as object), $group: group } as never,
      projection: { ...(projectionOperators as object), $elemMatch: elemMatchProjection } as never,
      window: windowOperators as never,
    }),
  };
  return options;
}
