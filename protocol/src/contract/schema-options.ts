import type { CreateDocumentOptions } from 'zod-openapi';
import { LIMITS } from '../limits';
import { attributesSchema } from '../schemas';

/**
 * How both documents render the zod schemas. The attribute map is a `__proto__` guard (a
 * `z.custom`, which has no JSON Schema) piped into a record; it is rendered as what it accepts.
 */
export const SCHEMA_OPTIONS: CreateDocumentOptions = {
  allowEmptySchema: { custom: true },
  override: ({ jsonSchema, zodSchema }) => {
    if (zodSchema !== attributesSchema) return;
    for (const k of Object.keys(jsonSchema)) delete (jsonSchema as Record<string, unknown>)[k];
    Object.assign(jsonSchema, {
      type: 'object',
      maxProperties: LIMITS.attributesMax,
      propertyNames: { minLength: 1, maxLength: LIMITS.attributeKeyMax, not: { pattern: '^\\$|\\.' } },
      additionalProperties: { type: ['string', 'number', 'boolean', 'null'] },
      description: 'Custom attributes: scalar values; `null` removes a key where attributes are merged.',
    });
  },
};
