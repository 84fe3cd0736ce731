import fc from 'fast-check';
import { REST_ROUTES } from '@parley/protocol/contract';
import { COMMAND_SCHEMAS, verifiedClaimsSchema } from '@parley/protocol/schemas';
import type { z } from 'zod';
import { inputArbitrary } from './support/zod-arbitrary';

/** Every input schema of the contract: each socket command's and each REST body and query. */
const SCHEMAS: [string, z.ZodType][] = [
  ...Object.entries(COMMAND_SCHEMAS).flatMap(([namespace, commands]) =>
    Object.entries(commands as Record<string, z.ZodType>).map(([name, schema]): [string, z.ZodType] => [
      `${namespace} ${name}`,
      schema,
    ]),
  ),
  ...REST_ROUTES.flatMap((route) => [
    ...(route.body ? [[`${route.method.toUpperCase()} ${route.path} body`, route.body] as [string, z.ZodType]] : []),
    ...(route.query ? [[`${route.method.toUpperCase()} ${route.path} query`, route.query] as [string, z.ZodType]] : []),
  ]),
  ['verified claims', verifiedClaimsSchema],
];

describe('inputs generated from the zod schemas', () => {
  it.each(SCHEMAS)('%s: every generated value is accepted by its schema', (_name, schema) => {
    fc.assert(
      fc.property(inputArbitrary(schema), (value) => {
        const result = schema.safeParse(value);
        if (!result.success) throw new Error(`refused ${JSON.stringify(value)}: ${result.error.message}`);
      }),
      { numRuns: 100 },
    );
  });
});
