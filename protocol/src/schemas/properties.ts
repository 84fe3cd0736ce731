import { z } from 'zod';
import { textSchema } from './common';

/**
 * Typed contact properties: definitions of the keys a project's leads hold in `attributes`. Values
 * travel as attribute scalars (a `date` as an ISO 8601 string, a `multiselect` as its options joined
 * by `;`) and are stored typed, so that filters compare dates as dates and numbers as numbers.
 */
export const PROPERTY_TYPES = ['text', 'number', 'boolean', 'date', 'email', 'url', 'select', 'multiselect'] as const;
export type PropertyType = (typeof PROPERTY_TYPES)[number];

/** How many properties a project may define, and options a select may have. */
export const PROPERTY_LIMITS = { propertiesMax: 100, optionsMax: 100, optionMax: 100, labelMax: 100 } as const;

/** A key is also an attribute key and a filter field (`properties.{key}`): plain and short. */
export const propertyKeySchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be lower-case letters, digits and _ (starting with a letter), at most 64');

const optionSchema = z
  .string()
  .trim()
  .min(1)
  .max(PROPERTY_LIMITS.optionMax)
  .refine((s) => !s.includes(';'), 'must not contain ; (it separates multiselect values)');

const optionsSchema = z
  .array(optionSchema)
  .min(1)
  .max(PROPERTY_LIMITS.optionsMax)
  .refine((o) => new Set(o).size === o.length, 'must not repeat an option');

const labelSchema = textSchema(PROPERTY_LIMITS.labelMax).refine((s) => s.trim().length > 0, 'must not be empty');

const hasOptions = (type: PropertyType) => type === 'select' || type === 'multiselect';

export const propertyCreateSchema = z
  .strictObject({
    key: propertyKeySchema,
    label: labelSchema,
    type: z.enum(PROPERTY_TYPES),
    options: optionsSchema.optional(),
    visitorWritable: z.boolean().optional(),
    visibleToVisitor: z.boolean().optional(),
  })
  .superRefine((v, ctx) => {
    if (hasOptions(v.type) && !v.options)
      ctx.addIssue({ code: 'custom', path: ['options'], message: `a ${v.type} property needs options` });
    if (!hasOptions(v.type) && v.options)
      ctx.addIssue({ code: 'custom', path: ['options'], message: `a ${v.type} property has no options` });
  });

export const propertyPatchSchema = z
  .strictObject({
    label: labelSchema.optional(),
    type: z.enum(PROPERTY_TYPES).optional(),
    options: optionsSchema.optional(),
    visitorWritable: z.boolean().optional(),
    visibleToVisitor: z.boolean().optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'must set at least one field');

export const propertySettingsSchema = z.strictObject({
  /** Refuse attribute keys that no property defines (otherwise they are kept as text). */
  definedKeysOnly: z.boolean(),
});

const timeSchema = z.iso.datetime();

export const propertySchema = z
  .strictObject({
    id: z.string(),
    projectId: z.string(),
    key: z.string(),
    label: z.string(),
    type: z.enum(PROPERTY_TYPES),
    options: z.array(z.string()).optional(),
    visitorWritable: z.boolean(),
    visibleToVisitor: z.boolean(),
    createdAt: timeSchema,
    updatedAt: timeSchema,
  })
  .meta({ id: 'Property', description: 'A typed contact property: the definition of one attribute key.' });

export const propertyListResponseSchema = z
  .strictObject({ items: z.array(propertySchema), definedKeysOnly: z.boolean() })
  .meta({ id: 'PropertyList' });

export const propertySettingsResponseSchema = propertySettingsSchema.meta({ id: 'PropertySettings' });

export type PropertyCreateInput = z.input<typeof propertyCreateSchema>;
export type PropertyPatchInput = z.input<typeof propertyPatchSchema>;
export type PropertySettings = z.output<typeof propertySettingsSchema>;
export type Property = z.output<typeof propertySchema>;
export type PropertyListResponse = z.output<typeof propertyListResponseSchema>;
