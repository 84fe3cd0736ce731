import { z } from 'zod';
import { LIMITS } from '../limits';
import { leadSchema } from './responses';

/**
 * The contacts filter tree of `POST …/leads/search`, the CSV export, bulk actions and segments:
 * `{ and: [...] }`, `{ or: [...] }` and conditions `{ field, op, value }`. The schema bounds the
 * shape (depth and sizes); which fields exist, which operators each allows and which values fit
 * are checked by the server against the project's properties, naming the offending condition by
 * its path (`filter.and[2].or[0]`).
 */
export const FILTER_OPS = [
  'eq',
  'neq',
  'in',
  'contains',
  'startsWith',
  'gt',
  'gte',
  'lt',
  'lte',
  'between',
  'exists',
] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export const FILTER_LIMITS = { conditionsMax: 20, depthMax: 3, inMax: 100, valueMax: 1000 } as const;

const scalar = z.union([z.string().max(FILTER_LIMITS.valueMax), z.number(), z.boolean()]);

export const filterConditionSchema = z.strictObject({
  /** A built-in field (`name`, `email`, `emailDomain`, …) or `properties.{key}`. */
  field: z.string().min(1).max(100),
  op: z.enum(FILTER_OPS),
  /** A scalar; an array for `in` and `between` (`[from, to]`); a boolean for `exists`. */
  value: z.union([scalar, z.array(scalar).max(FILTER_LIMITS.inMax)]).optional(),
});

const groupOf = <T extends z.ZodType>(node: T) => {
  const list = z.array(node).min(1).max(FILTER_LIMITS.conditionsMax);
  return z.union([z.strictObject({ and: list }), z.strictObject({ or: list })]);
};

// Written out level by level (zod's recursive schemas do not generate documents or fuzz cases
// well). One level deeper than allowed parses, so that the server can name the condition that
// nests too deep instead of a generic "invalid union".
const level4 = filterConditionSchema;
const level3 = z.union([filterConditionSchema, groupOf(level4)]);
const level2 = z.union([filterConditionSchema, groupOf(level3)]);
const level1 = z.union([filterConditionSchema, groupOf(level2)]);
export const leadFilterSchema = z.union([filterConditionSchema, groupOf(level1)]).meta({ id: 'LeadFilter' });

export type FilterCondition = z.output<typeof filterConditionSchema>;
/** A filter tree (typed loosely: the schema bounds the depth). */
export type LeadFilterNode = FilterCondition | { and: LeadFilterNode[] } | { or: LeadFilterNode[] };

export const SORT_ORDERS = ['asc', 'desc'] as const;

export const leadSearchSchema = z.strictObject({
  filter: leadFilterSchema.optional(),
  /** Free text: a prefix of names, email or phone, or a whole email domain (`example.com`). */
  q: z.string().trim().min(1).max(LIMITS.searchQueryMax).optional(),
  sort: z.strictObject({ field: z.string().min(1).max(100), order: z.enum(SORT_ORDERS).optional() }).optional(),
  limit: z.number().int().min(1).max(LIMITS.pageLimitMax).optional(),
  /** `nextCursor` of the previous page; opaque. */
  cursor: z.string().min(1).max(2000).optional(),
});

export type LeadSearchInput = z.input<typeof leadSearchSchema>;

export const leadSearchResponseSchema = z
  .strictObject({
    items: z.array(leadSchema),
    /** Every match, counted exactly up to 10,000; past that 10,000 with `totalCapped`. */
    total: z.number().int(),
    totalCapped: z.boolean(),
    /** Present while more matches follow: send it back as `cursor`. */
    nextCursor: z.string().optional(),
  })
  .meta({ id: 'LeadSearchResult' });
export type LeadSearchResponse = z.output<typeof leadSearchResponseSchema>;

/** The CSV export by filter tree (`POST …/leads/export.csv`): the search's selection, no pages. */
export const leadFilterExportSchema = z.strictObject({
  filter: leadFilterSchema.optional(),
  q: z.string().trim().min(1).max(LIMITS.searchQueryMax).optional(),
});
export type LeadFilterExportInput = z.input<typeof leadFilterExportSchema>;
