import { z } from 'zod';
import { IMPORT_LIMITS } from '../imports';
import { attributeKeySchema, queryBool } from './common';

const plainTargets = ['fullname', 'lastname', 'email', 'phone', 'tags', 'userId', 'ignore'] as const;

/**
 * Where a column goes. A string so that new kinds of target (typed properties) can be added
 * without changing the mapping's shape: `attributes.<key>` today.
 */
export const importTargetSchema = z.union([
  z.enum(plainTargets),
  z
    .templateLiteral(['attributes.', z.string()])
    .refine(
      (target) => attributeKeySchema.safeParse(target.slice('attributes.'.length)).success,
      'must be attributes.<key> with a valid attribute key',
    ),
]);

const mappingObjectSchema = z
  .record(z.string().min(1).max(200), importTargetSchema)
  .refine((m) => Object.keys(m).length >= 1, 'must map at least one column')
  .refine((m) => Object.keys(m).length <= IMPORT_LIMITS.columnsMax, `at most ${IMPORT_LIMITS.columnsMax} columns`)
  .refine((m) => {
    const targets = Object.values(m).filter((t) => t !== 'ignore');
    return new Set(targets).size === targets.length;
  }, 'two columns map to the same field');

/** The mapping travels in the query string (the body is the CSV), as JSON. */
export const importMappingParamSchema = z
  .string()
  .max(20_000)
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of column → field' });
      return z.NEVER;
    }
  })
  .pipe(mappingObjectSchema)
  .meta({
    examples: [
      '{"Email":"email","Name":"fullname"}',
      '{"email":"email","id":"userId","Plan":"attributes.plan","Tags":"tags"}',
      '{"user":"userId","Phone":"phone","Notes":"ignore"}',
    ],
  });

/** Query string of `POST /v1/projects/{projectId}/leads/imports` (the body is the CSV itself). */
export const leadImportQuerySchema = z
  .strictObject({
    matchKey: z.enum(['email', 'userId']),
    mapping: importMappingParamSchema,
    dryRun: queryBool().optional(),
    /** `auto` (the default) picks `;` when the header line holds more of them than commas. */
    delimiter: z.enum(['auto', 'comma', 'semicolon']).optional(),
  })
  .refine((q) => Object.values(q.mapping).includes(q.matchKey), {
    message: 'the match key must be the target of a column',
    path: ['mapping'],
  });

export type LeadImportQuery = z.output<typeof leadImportQuerySchema>;

const timeSchema = z.iso.datetime();

export const leadImportSchema = z
  .strictObject({
    id: z.string(),
    projectId: z.string(),
    status: z.enum(['queued', 'running', 'completed', 'failed']),
    dryRun: z.boolean(),
    matchKey: z.enum(['email', 'userId']),
    mapping: z.record(z.string(), importTargetSchema),
    delimiter: z.enum([',', ';']).nullable(),
    bytes: z.number().int().min(0),
    rowsProcessed: z.number().int().min(0),
    progress: z.number().min(0).max(1),
    counts: z.strictObject({
      created: z.number().int().min(0),
      updated: z.number().int().min(0),
      skipped: z.number().int().min(0),
      failed: z.number().int().min(0),
    }),
    errorCount: z.number().int().min(0),
    failure: z.string().nullable(),
    createdAt: timeSchema,
    startedAt: timeSchema.nullable(),
    finishedAt: timeSchema.nullable(),
  })
  .meta({ id: 'LeadImport' });

export const leadImportResponseSchema = z.strictObject({ import: leadImportSchema }).meta({ id: 'LeadImportResponse' });
export const leadImportEventSchema = z.strictObject({ import: leadImportSchema }).meta({ id: 'LeadImportEvent' });
