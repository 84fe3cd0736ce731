import { BSONRegExp, DBRef, type Document } from 'bson';
import { Query } from 'mingo/query';
import { badValue, MongoCommandError, notSupported } from '../errors';
import { DBREF_FIELDS, dbRefDocument, isPlainObject, isNumeric, setField } from '../storage/values';
import { knownTypeAlias, leafOperators, TYPE_CODES, type LeafOperator } from './leaf-operators';
import { REFUSED_OPERATORS, TRUTHY } from './expressions';
import { mingoOptions } from './mingo-context';
import { checkExpressionKey } from './prototype-names';
import { isRegex, toRegExp } from './regex';

export interface Matcher {
  test(doc: Document): boolean;
  /** The validated filter (regular expressions compiled), for the planner and positional updates. */
  readonly filter: Document;
}

const COMPARISONS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte']);
const REFUSED_FIELD_OPERATORS = new Set([
  '$near',
  '$nearSphere',
  '$geoWithin',
  '$geoIntersects',
  '$within',
  '$bitsAllSet',
  '$bitsAllClear',
  '$bitsAnySet',
  '$bitsAnyClear',
]);
const REFUSED_TOP_LEVEL = new Set(['$where', '$text', '$jsonSchema', '$sampleRate']);
/** Expression operators that run code or need server machinery embedded-mongo lacks. */
const REFUSED_EXPRESSIONS = new Set(['$function', '$accumulator', '$where', '$meta', '$toHashedIndexKey']);

/** Compiles a query filter with MongoDB's semantics, refusing what embedded-mongo does not do. */
export function compileFilter(filter: unknown, where = 'filter'): Matcher {
  const prepared = prepareFilter(filter ?? {}, where);
  if (Object.keys(prepared).length === 0) return { test: () => true, filter: prepared };
  const predicate = compilePrepared(prepared);
  return {
    filter: prepared,
    test(doc) {
      try {
        return predicate(doc);
      } catch (error) {
        throw asBadValue(error);
      }
    },
  };
}

type Predicate = (doc: Document) => boolean;

function every(predicates: Predicate[]): Predicate {
  if (predicates.length === 1) return predicates[0] as Predicate;
  return (doc) => {
    for (const p of predicates) if (!p(doc)) return false;
    return true;
  };
}

/**
 * A predicate for a validated filter, built from the leaf operators directly: mingo is only asked
 * for `$expr` (its expression language), so the common query never pays for building a mingo Query.
 */
export function compilePrepared(filter: Document): Predicate {
  const predicates: Predicate[] = [];
  for (const [key, condition] of Object.entries(filter)) {
    if (key === '$and') predicates.push(every((condition as Document[]).map(compilePrepared)));
    else if (key === '$or') {
      const branches = (condition as Document[]).map(compilePrepared);
      predicates.push((doc) => branches.some((p) => p(doc)));
    } else if (key === '$nor') {
      const branches = (condition as Document[]).map(compilePrepared);
      predicates.push((doc) => !branches.some((p) => p(doc)));
    } else if (key === '$expr') {
      let query: Query;
      try {
        query = new Query({ $expr: { [TRUTHY]: condition } }, mingoOptions());
      } catch (error) {
        throw asBadValue(error);
      }
      predicates.push((doc) => query.test(doc));
    } else predicates.push(compileCondition(key, condition));
  }
  return predicates.length === 0 ? () => true : every(predicates);
}

function compileCondition(path: string, condition: unknown): Predicate {
  const options = mingoOptions();
  if (condition instanceof RegExp) return leafOperators.$regex(path, condition, options);
  if (!isOperatorObject(condition)) return leafOperators.$eq(path, condition, options);
  return every(
    Object.entries(condition).map(([op, operand]): Predicate => {
      if (op === '$not') {
        const inner = compileCondition(path, operand);
        return (doc) => !inner(doc);
      }
      const operator = (leafOperators as Record<string, LeafOperator>)[op];
      if (!operator) throw badValue(`unknown operator: ${op}`);
      return operator(path, operand, options);
    }),
  );
}

export function asBadValue(error: unknown): MongoCommandError {
  if (error instanceof MongoCommandError) return error;
  return badValue(error instanceof Error ? error.message : String(error));
}

/** Validates a filter and returns a copy with regular expressions compiled to JavaScript ones. */
export function prepareFilter(filter: unknown, where = 'filter'): Document {
  if (!isPlainObject(filter)) throw badValue(`${where} must be an object`);
  const out: Document = {};
  for (const [key, condition] of Object.entries(filter)) {
    if (!key.startsWith('$') || DBREF_FIELDS.has(key)) {
      setField(out, key, prepareCondition(condition, where));
      continue;
    }
    if (key === '$and' || key === '$or' || key === '$nor') {
      if (!Array.isArray(condition) || condition.length === 0) throw badValue(`${key} must be a nonempty array`);
      out[key] = condition.map((clause) => {
        if (!isPlainObject(clause)) throw badValue(`${key}/$or/$nor entries need to be full objects`);
        return prepareFilter(clause, where);
      });
    } else if (key === '$expr') {
      out[key] = prepareExpression(condition);
    } else if (key === '$comment') {
      continue;
    } else if (REFUSED_TOP_LEVEL.has(key)) {
      throw notSupported(`${key} in a ${where}`);
    } else {
      throw badValue(`unknown top level operator: ${key}`);
    }
  }
  return out;
}

function isOperatorObject(value: unknown): value is Record<string, unknown> {
  if (!isPlainObject(value)) return false;
  const first = Object.keys(value)[0];
  return first !== undefined && first.startsWith('$');
}

function prepareCondition(condition: unknown, where: string): unknown {
  if (isRegex(condition)) return toRegExp(condition);
  if (!isOperatorObject(condition)) {
    if (isPlainObject(condition) && Object.keys(condition).some((k) => k.startsWith('$'))) {
      throw notSupported('an equality match on a document mixing $-prefixed and plain field names');
    }
    return condition;
  }
  const out: Document = {};
  for (const [op, operand] of Object.entries(condition)) {
    if (!op.startsWith('$')) throw badValue(`unknown operator: ${op}`);
    if (op === '$options') {
      if (!('$regex' in condition)) throw badValue('$options needs a $regex');
      continue;
    }
    out[op] = prepareOperand(op, operand, condition, where);
  }
  return out;
}

function prepareOperand(op: string, operand: unknown, condition: Record<string, unknown>, where: string): unknown {
  if (COMPARISONS.has(op)) return operand instanceof BSONRegExp ? toRegExp(operand) : operand;
  switch (op) {
    case '$in':
    case '$nin':
      if (!Array.isArray(operand)) throw badValue(`${op} needs an array`);
      return operand.map((item) => {
        if (isRegex(item)) return toRegExp(item);
        if (isOperatorObject(item)) throw badValue(`cannot nest $ under ${op}`);
        return item;
      });
    case '$exists':
      return Boolean(operand);
    case '$type':
      return prepareType(operand);
    case '$size':
      if (typeof operand !== 'number' || !Number.isInteger(operand) || operand < 0)
        throw badValue('$size needs a non-negative integer');
      return operand;
    case '$all':
      if (!Array.isArray(operand)) throw badValue('$all needs an array');
      return operand.map((item) => {
        if (isRegex(item)) return toRegExp(item);
        if (isOperatorObject(item)) {
          if (Object.keys(item).length !== 1 || !('$elemMatch' in item)) throw badValue('no $ expressions in $all');
          return { $elemMatch: prepareElemMatch(item['$elemMatch'], where) };
        }
        return item;
      });
    case '$elemMatch':
      return prepareElemMatch(operand, where);
    case '$regex': {
      const options = condition['$options'];
      if (options !== undefined && typeof options !== 'string') throw badValue('$options has to be a string');
      if (typeof operand !== 'string' && !isRegex(operand)) throw badValue('$regex has to be a string');
      return toRegExp(operand, options);
    }
    case '$not':
      if (isRegex(operand)) return toRegExp(operand);
      if (!isOperatorObject(operand)) throw badValue('$not needs a regex or a document');
      return prepareCondition(operand, where);
    case '$mod':
      if (!Array.isArray(operand) || operand.length !== 2 || !operand.every(isNumeric))
        throw badValue('malformed mod, needs to be an array of two numbers');
      if (operand[0] === 0) throw badValue('divisor cannot be 0');
      return operand;
    default:
      if (REFUSED_FIELD_OPERATORS.has(op)) throw notSupported(`${op} in a ${where}`);
      if (REFUSED_TOP_LEVEL.has(op)) throw notSupported(`${op} in a ${where}`);
      throw badValue(`unknown operator: ${op}`);
  }
}

function prepareElemMatch(operand: unknown, where: string): Document {
  // `{ $ref, $id }` arrives decoded as a DBRef: to `$elemMatch` those are conditions on two fields.
  if (operand instanceof DBRef) return prepareFilter(dbRefDocument(operand), where);
  if (!isPlainObject(operand)) throw badValue('$elemMatch needs an Object');
  const keys = Object.keys(operand);
  const operatorForm =
    keys.length > 0 &&
    keys.every((k) => k.startsWith('$') && !DBREF_FIELDS.has(k) && !['$and', '$or', '$nor', '$expr'].includes(k));
  return operatorForm ? (prepareCondition(operand, where) as Document) : prepareFilter(operand, where);
}

function prepareType(operand: unknown): unknown {
  const items = Array.isArray(operand) ? operand : [operand];
  for (const item of items) {
    if (typeof item === 'number' ? TYPE_CODES[item] === undefined : typeof item !== 'string' || !knownTypeAlias(item)) {
      throw badValue(`unknown type name alias: ${String(item)}`);
    }
  }
  return operand;
}

/**
 * Validates an aggregation expression (in `$expr` or a pipeline stage) for mingo to evaluate with
 * the operators of expressions.ts. Every condition (`$cond`'s `if`, `$switch` cases, `$and`, `$or`,
 * `$not`, `$filter`'s `cond`) is wrapped in an operator that applies MongoDB's truthiness, which
 * differs from JavaScript's for NaN (true) and Decimal128 zero (false).
 */
export function prepareExpression(expression: unknown): unknown {
  if (Array.isArray(expression)) return expression.map(prepareExpression);
  if (!isPlainObject(expression)) return expression;
  const out: Document = {};
  for (const [key, value] of Object.entries(expression)) {
    if (REFUSED_EXPRESSIONS.has(key) || REFUSED_OPERATORS.has(key)) {
      throw notSupported(`the expression operator ${key}`);
    }
    checkExpressionKey(key);
    out[key] = key === '$literal' || key === TRUTHY ? value : conditions(key, prepareExpression(value));
  }
  return out;
}

function conditions(operator: string, operand: unknown): unknown {
  const truthy = (condition: unknown) => ({ [TRUTHY]: condition });
  switch (operator) {
    case '$and':
    case '$or':
    case '$not':
      return Array.isArray(operand) ? operand.map(truthy) : truthy(operand);
    case '$cond':
      if (Array.isArray(operand)) return operand.map((e, i) => (i === 0 ? truthy(e) : e));
      return isPlainObject(operand) && 'if' in operand ? { ...operand, if: truthy(operand['if']) } : operand;
    case '$switch':
      if (!isPlainObject(operand) || !Array.isArray(operand['branches'])) return operand;
      return {
        ...operand,
        branches: operand['branches'].map((b: unknown) =>
          isPlainObject(b) && 'case' in b ? { ...b, case: truthy(b['case']) } : b,
        ),
      };
    case '$filter':
      return isPlainObject(operand) && 'cond' in operand ? { ...operand, cond: truthy(operand['cond']) } : operand;
    default:
      return operand;
  }
}
