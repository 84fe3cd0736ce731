import type {
  AttributeValue,
  Property,
  PropertyCreateInput,
  PropertyPatchInput,
  PropertyListResponse,
} from '@parley/protocol';
import { PROPERTY_LIMITS } from '@parley/protocol/schemas';
import { AppError, isDuplicateKeyError, notFound } from '../errors';
import { iso, newId } from '../infra/ids';
import { setAttributeMany } from '../leads/lead-attribute-writes';
import type { LeadDoc, LeadModel } from '../leads/lead-model';
import type { PropertyDoc, PropertyModel, PropertySettingsModel } from './property-model';
import { retype, sameStoredValue, typeValue, type StoredAttributeValue } from './property-values';

export function toProperty(doc: PropertyDoc): Property {
  const property: Property = {
    id: doc._id,
    projectId: doc.projectId,
    key: doc.key,
    label: doc.label,
    type: doc.type,
    visitorWritable: doc.visitorWritable,
    visibleToVisitor: doc.visibleToVisitor,
    createdAt: iso(doc.createdAt),
    updatedAt: iso(doc.updatedAt),
  };
  if (doc.options) property.options = [...doc.options];
  return property;
}

/** Who writes attributes: visitors may only write properties marked `visitorWritable`. */
export type AttributeWriter = 'visitor' | 'customer' | 'agent';

/** A project's definitions, by key, with its setting for undefined keys. */
export interface PropertyCatalog {
  byKey: Map<string, PropertyDoc>;
  definedKeysOnly: boolean;
}

/** Leads retyped or cleaned per write when a definition changes: bounded memory per round. */
const CHUNK = 500;

/**
 * Typed contact properties. Definitions are read from the database on every write that carries
 * attributes (one indexed read of a small collection), never cached per node: a definition changed
 * on one node therefore holds on every node at once, with nothing to invalidate.
 */
export class PropertyService {
  constructor(
    private readonly properties: PropertyModel,
    private readonly settings: PropertySettingsModel,
    private readonly leads: LeadModel,
  ) {}

  async catalog(projectId: string): Promise<PropertyCatalog> {
    const [docs, settings] = await Promise.all([
      this.properties.find({ projectId }).lean<PropertyDoc[]>().exec(),
      this.settings.findById(projectId).lean<{ definedKeysOnly: boolean }>().exec(),
    ]);
    return { byKey: new Map(docs.map((d) => [d.key, d])), definedKeysOnly: settings?.definedKeysOnly ?? false };
  }

  async list(projectId: string): Promise<PropertyListResponse> {
    const catalog = await this.catalog(projectId);
    const items = [...catalog.byKey.values()].sort((a, b) => a.key.localeCompare(b.key)).map(toProperty);
    return { items, definedKeysOnly: catalog.definedKeysOnly };
  }

  async setDefinedKeysOnly(projectId: string, definedKeysOnly: boolean): Promise<{ definedKeysOnly: boolean }> {
    await this.settings.updateOne({ _id: projectId }, { $set: { definedKeysOnly } }, { upsert: true }).exec();
    return { definedKeysOnly };
  }

  async get(projectId: string, propertyId: string): Promise<Property> {
    return toProperty(await this.getDoc(projectId, propertyId));
  }

  private async getDoc(projectId: string, propertyId: string): Promise<PropertyDoc> {
    const doc = await this.properties.findOne({ _id: propertyId, projectId }).lean<PropertyDoc>().exec();
    if (!doc) throw notFound('Property');
    return doc;
  }

  /**
   * Defines a key. Values leads already hold under it must be of the type (else CONFLICT, like a
   * type change): they are retyped in place (a date string becomes a Date).
   */
  async create(projectId: string, input: PropertyCreateInput): Promise<Property> {
    const count = await this.properties.countDocuments({ projectId }).exec();
    if (count >= PROPERTY_LIMITS.propertiesMax)
      throw new AppError('CONFLICT', `A project has at most ${PROPERTY_LIMITS.propertiesMax} properties`);
    const def = { type: input.type, ...(input.options ? { options: input.options } : {}) };
    await this.assertConvertible(projectId, input.key, def);
    const now = new Date();
    const doc: PropertyDoc = {
      _id: newId(),
      projectId,
      key: input.key,
      label: input.label,
      type: input.type,
      ...(input.options ? { options: input.options } : {}),
      visitorWritable: input.visitorWritable ?? false,
      visibleToVisitor: input.visibleToVisitor ?? false,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.properties.create(doc);
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new AppError('CONFLICT', 'A property with this key exists');
      throw error;
    }
    await this.retypeValues(projectId, input.key, def);
    return toProperty(doc);
  }

  /**
   * Changes a definition. A type (or options) change is refused with CONFLICT while any lead holds
   * a value that does not convert; otherwise every held value is retyped. A value written between
   * the check and the retyping that does not convert is removed (it could not be stored typed).
   */
  async update(projectId: string, propertyId: string, input: PropertyPatchInput): Promise<Property> {
    const before = await this.getDoc(projectId, propertyId);
    const type = input.type ?? before.type;
    const hasOptions = type === 'select' || type === 'multiselect';
    const options = hasOptions ? (input.options ?? before.options) : undefined;
    if (hasOptions && !options)
      throw new AppError('BAD_REQUEST', 'Invalid input', {
        fields: [{ field: 'options', message: `a ${type} property needs options` }],
      });
    if (!hasOptions && input.options)
      throw new AppError('BAD_REQUEST', 'Invalid input', {
        fields: [{ field: 'options', message: `a ${type} property has no options` }],
      });
    const def = { type, ...(options ? { options } : {}) };
    const retyping = type !== before.type || JSON.stringify(options) !== JSON.stringify(before.options);
    if (retyping) await this.assertConvertible(projectId, before.key, def);
    const $set: Record<string, unknown> = { type, updatedAt: new Date() };
    for (const field of ['label', 'visitorWritable', 'visibleToVisitor'] as const)
      if (input[field] !== undefined) $set[field] = input[field];
    if (options) $set['options'] = options;
    const after = await this.properties
      .findOneAndUpdate({ _id: propertyId, projectId }, options ? { $set } : { $set, $unset: { options: '' } }, {
        returnDocument: 'after',
      })
      .lean<PropertyDoc>()
      .exec();
    if (!after) throw notFound('Property');
    if (retyping) await this.retypeValues(projectId, before.key, def);
    return toProperty(after);
  }

  /**
   * Deletes a definition and its values from every lead (with their origins). `beforeDelete` lets
   * segments refuse while a saved filter still names the property.
   */
  async remove(projectId: string, propertyId: string, beforeDelete?: (key: string) => Promise<void>): Promise<void> {
    const doc = await this.getDoc(projectId, propertyId);
    if (beforeDelete) await beforeDelete(doc.key);
    await this.properties.deleteOne({ _id: propertyId, projectId }).exec();
    const path = `attributes.${doc.key}`;
    // Leads' origins are an array of {field, origin}: the value's entry goes with it, and so do
    // its `propIndex` entries (lead-prop-index.ts), in the same statement.
    await this.leads
      .updateMany(
        { projectId, [path]: { $exists: true } },
        {
          $unset: { [path]: '' },
          $pull: { origins: { field: path }, propIndex: { k: doc.key } },
          $inc: { rev: 1 },
        },
      )
      .exec();
  }

  /** CONFLICT naming a few leads whose value of `key` would not convert to `def`. */
  private async assertConvertible(projectId: string, key: string, def: Parameters<typeof retype>[0]): Promise<void> {
    const path = `attributes.${key}`;
    const cursor = this.leads
      .find({ projectId, [path]: { $exists: true } }, { _id: 1, [path]: 1 })
      .lean<LeadDoc[]>()
      .cursor({ batchSize: CHUNK });
    const failing: { leadId: string; message: string }[] = [];
    try {
      for await (const lead of cursor) {
        const value = lead.attributes[key];
        if (value === undefined || value === null) continue;
        const typed = retype(def, value);
        if (!typed.ok) failing.push({ leadId: lead._id, message: typed.message });
        if (failing.length >= 10) break;
      }
    } finally {
      await cursor.close().catch(() => undefined);
    }
    if (failing.length > 0)
      throw new AppError('CONFLICT', `Some contacts hold values of "${key}" that are not a ${def.type}`, {
        fields: failing.map((f) => ({ field: `leads.${f.leadId}.attributes.${key}`, message: f.message })),
      });
  }

  private async retypeValues(projectId: string, key: string, def: Parameters<typeof retype>[0]): Promise<void> {
    const path = `attributes.${key}`;
    const cursor = this.leads
      .find({ projectId, [path]: { $exists: true } }, { _id: 1, [path]: 1 })
      .lean<LeadDoc[]>()
      .cursor({ batchSize: CHUNK });
    try {
      for await (const lead of cursor) {
        const value = lead.attributes[key];
        if (value === undefined || value === null) continue;
        const typed = retype(def, value);
        // Compare-and-set on the value read, so that a concurrent write of a new value wins; the
        // lead's `propIndex` follows the value (see setAttributeMany). A value that stays the same
        // (a text property that stays text) keeps its entries: one write, as before.
        if (typed.ok && sameStoredValue(value, typed.value))
          await this.leads.updateOne({ _id: lead._id, [path]: value }, { $inc: { rev: 1 } }).exec();
        else if (typed.ok)
          await setAttributeMany(this.leads, { _id: lead._id, [path]: value }, { _id: lead._id }, key, typed.value, {
            $inc: { rev: 1 },
          });
        else
          await this.leads
            .updateOne(
              { _id: lead._id, [path]: value },
              {
                $unset: { [path]: '' },
                $pull: { origins: { field: path }, propIndex: { k: key } },
                $inc: { rev: 1 },
              },
            )
            .exec();
      }
    } finally {
      await cursor.close().catch(() => undefined);
    }
  }
}

/**
 * Types the attributes of a write against the catalog: BAD_REQUEST for a value of the wrong type
 * or (with `definedKeysOnly`) an undefined key, FORBIDDEN for a visitor writing a property that is
 * not `visitorWritable`. Undefined keys are kept as sent otherwise. `null` (remove) passes.
 */
export function typeAttributes(
  catalog: PropertyCatalog,
  attributes: Record<string, AttributeValue>,
  writer: AttributeWriter,
): Record<string, StoredAttributeValue> {
  const typed: Record<string, StoredAttributeValue> = {};
  const bad: { field: string; message: string }[] = [];
  const forbidden: { field: string; message: string }[] = [];
  for (const [key, value] of Object.entries(attributes)) {
    const def = catalog.byKey.get(key);
    if (!def) {
      if (catalog.definedKeysOnly) bad.push({ field: `attributes.${key}`, message: 'is not a defined property' });
      else typed[key] = value;
      continue;
    }
    if (writer === 'visitor' && !def.visitorWritable) {
      forbidden.push({ field: `attributes.${key}`, message: 'visitors may not set this property' });
      continue;
    }
    if (value === null) {
      typed[key] = null;
      continue;
    }
    const result = typeValue(def, value);
    if (result.ok) typed[key] = result.value;
    else bad.push({ field: `attributes.${key}`, message: result.message });
  }
  if (forbidden.length > 0)
    throw new AppError('FORBIDDEN', 'Visitors may not set these properties', { fields: forbidden });
  if (bad.length > 0) throw new AppError('BAD_REQUEST', 'Invalid input', { fields: bad });
  return typed;
}
