import type { QueryFilter } from 'mongoose';
import type { FilterCondition, FilterOp, LeadFilterNode } from '@parley/protocol';
import { FILTER_LIMITS } from '@parley/protocol/schemas';
import { AppError } from '../errors';
import type { PropertyCatalog } from '../properties/property-service';
import { typeValue, type ValueType } from '../properties/property-values';
import type { LeadDoc } from './lead-model';
import { escapeRegex } from './lead-search';

/** What a field's values are, which decides the operators and the values a condition may use. */
type Kind = 'string' | 'lowerString' | 'tags' | 'kind' | 'date' | 'number' | 'boolean' | 'select' | 'multiselect';

interface FieldSpec {
  kind: Kind;
  /** Where the value is stored. */
  path: string;
  /** Typing of property values (and the options of a select). */
  property?: ValueType;
  /** Whether searches may sort by it. */
  sortable: boolean;
  /** A custom property's key: its values are also entries of the lead's `propIndex`. */
  propertyKey?: string;
}

const OPS: Record<Kind, readonly FilterOp[]> = {
  string: ['eq', 'neq', 'in', 'contains', 'startsWith', 'exists'],
  lowerString: ['eq', 'neq', 'in', 'contains', 'startsWith', 'exists'],
  tags: ['eq', 'neq', 'in', 'exists'],
  kind: ['eq', 'neq', 'in'],
  date: ['eq', 'gt', 'gte', 'lt', 'lte', 'between', 'exists'],
  number: ['eq', 'neq', 'in', 'gt', 'gte', 'lt', 'lte', 'between', 'exists'],
  boolean: ['eq', 'neq', 'exists'],
  select: ['eq', 'neq', 'in', 'exists'],
  // `eq`/`contains`: holds that option; `in`: holds any of them; `neq`: does not hold it.
  multiselect: ['eq', 'neq', 'in', 'contains', 'exists'],
};

/** The built-in fields (`blocked` may be absent on a lead: absent counts as false). */
const BUILT_IN: Record<string, FieldSpec> = {
  name: { kind: 'string', path: 'fullname', sortable: true },
  lastname: { kind: 'string', path: 'lastname', sortable: true },
  email: { kind: 'lowerString', path: 'email', sortable: true },
  emailDomain: { kind: 'lowerString', path: 'emailDomain', sortable: true },
  phone: { kind: 'string', path: 'phone', sortable: false },
  tags: { kind: 'tags', path: 'tags', sortable: false },
  kind: { kind: 'kind', path: 'kind', sortable: true },
  createdAt: { kind: 'date', path: 'createdAt', sortable: true },
  updatedAt: { kind: 'date', path: 'updatedAt', sortable: true },
  lastSeenAt: { kind: 'date', path: 'lastSeenAt', sortable: true },
  conversationCount: { kind: 'number', path: 'conversationCount', sortable: true },
  blocked: { kind: 'boolean', path: 'blocked', sortable: false },
};

const PROPERTY_KIND: Record<ValueType['type'], Kind> = {
  text: 'string',
  email: 'lowerString',
  url: 'string',
  number: 'number',
  boolean: 'boolean',
  date: 'date',
  select: 'select',
  multiselect: 'multiselect',
};

/** The field a condition or a sort names, or undefined when the project has no such field. */
export function fieldSpec(catalog: PropertyCatalog, field: string): FieldSpec | undefined {
  if (Object.hasOwn(BUILT_IN, field)) return BUILT_IN[field];
  if (!field.startsWith('properties.')) return undefined;
  const key = field.slice('properties.'.length);
  const def = catalog.byKey.get(key);
  if (!def) return undefined;
  const kind = PROPERTY_KIND[def.type];
  return {
    kind,
    path: `attributes.${key}`,
    property: { type: def.type, ...(def.options ? { options: def.options } : {}) },
    sortable: kind !== 'multiselect',
    propertyKey: key,
  };
}

/** Property keys a filter names (segments refuse the deletion of one they use). */
export function propertyKeysOf(node: LeadFilterNode): string[] {
  if ('and' in node) return node.and.flatMap(propertyKeysOf);
  if ('or' in node) return node.or.flatMap(propertyKeysOf);
  return node.field.startsWith('properties.') ? [node.field.slice('properties.'.length)] : [];
}

// A blocked lead holds `blocked: { at, by }` (lead-block.ts); an unblocked one has none, and leads
// stored before blocking existed never had it: absent (or null) is "not blocked".
const IS_BLOCKED: QueryFilter<LeadDoc> = { blocked: { $exists: true, $ne: null } };
const NOT_BLOCKED: QueryFilter<LeadDoc> = { blocked: null };

const bad = (path: string, message: string) =>
  new AppError('BAD_REQUEST', `Invalid filter: ${path} ${message}`, { fields: [{ field: path, message }] });

/**
 * Checks a filter tree against the project's fields and turns it into a MongoDB query. Nothing
 * the caller sends becomes an operator or a regex: values are typed and regex text escaped.
 */
export function compileFilter(
  catalog: PropertyCatalog,
  root: LeadFilterNode,
  rootPath = 'filter',
): QueryFilter<LeadDoc> {
  let conditions = 0;
  const walk = (node: LeadFilterNode, path: string, depth: number): QueryFilter<LeadDoc> => {
    if ('and' in node || 'or' in node) {
      const op = 'and' in node ? 'and' : 'or';
      if (depth >= FILTER_LIMITS.depthMax)
        throw bad(path, `nests more than ${FILTER_LIMITS.depthMax} levels of and/or`);
      const children = 'and' in node ? node.and : node.or;
      const compiled = children.map((child, i) => walk(child, `${path}.${op}[${i}]`, depth + 1));
      return { [`$${op}`]: compiled } as QueryFilter<LeadDoc>;
    }
    conditions += 1;
    if (conditions > FILTER_LIMITS.conditionsMax)
      throw bad(path, `is condition ${conditions}; a filter has at most ${FILTER_LIMITS.conditionsMax}`);
    return compileCondition(catalog, node, path);
  };
  return walk(root, rootPath, 0);
}

function compileCondition(catalog: PropertyCatalog, condition: FilterCondition, path: string): QueryFilter<LeadDoc> {
  const spec = fieldSpec(catalog, condition.field);
  if (!spec) throw bad(path, `names an unknown field "${condition.field}"`);
  const { op } = condition;
  if (!OPS[spec.kind].includes(op))
    throw bad(path, `cannot use ${op} on ${condition.field} (allowed: ${OPS[spec.kind].join(', ')})`);
  const value = condition.value;
  const one = (v: unknown) => typedValue(spec, v, path, op);
  const at = spec.path;

  if (op === 'exists') {
    if (typeof value !== 'boolean') throw bad(path, 'exists takes true or false');
    if (spec.kind === 'boolean' && spec.path === 'blocked') return value ? IS_BLOCKED : NOT_BLOCKED;
    if (spec.kind === 'tags') return value ? { 'tags.0': { $exists: true } } : { 'tags.0': { $exists: false } };
    return value ? { [at]: { $exists: true, $ne: null } } : { $or: [{ [at]: { $exists: false } }, { [at]: null }] };
  }
  if (op === 'in') {
    if (!Array.isArray(value) || value.length === 0) throw bad(path, 'in takes a non-empty array');
    const values = value.map(one);
    return indexed(spec, values, { [at]: { $in: values } });
  }
  if (op === 'between') {
    if (!Array.isArray(value) || value.length !== 2) throw bad(path, 'between takes [from, to]');
    return { [at]: { $gte: one(value[0]), $lte: one(value[1]) } };
  }
  if (Array.isArray(value) || value === undefined) throw bad(path, `${op} takes one value`);
  const v = one(value);
  switch (op) {
    case 'eq':
      if (spec.path === 'blocked') return v === true ? IS_BLOCKED : NOT_BLOCKED;
      return indexed(spec, [v], { [at]: v });
    case 'neq':
      if (spec.path === 'blocked') return v === true ? NOT_BLOCKED : IS_BLOCKED;
      return { [at]: { $ne: v } };
    case 'contains':
      if (spec.kind === 'multiselect') return indexed(spec, [v], { [at]: v });
      return { [at]: { $regex: escapeRegex(String(v)), $options: 'i' } };
    case 'startsWith':
      // Lower-cased fields take a case-sensitive anchored regex: an index range scan.
      return spec.kind === 'lowerString'
        ? { [at]: { $regex: `^${escapeRegex(String(v).toLowerCase())}` } }
        : { [at]: { $regex: `^${escapeRegex(String(v))}`, $options: 'i' } };
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return { [at]: { [`$${op}`]: v } };
  }
  throw bad(path, `cannot use ${op}`);
}

/**
 * A property condition that holds only for leads with one of `values` (equality, `in`, multiselect
 * membership), served by the `{ projectId, propIndex }` index: the `propIndex` condition narrows
 * the candidates through it, and `exact`, the condition on the attribute itself, keeps the
 * semantics exactly (a stale extra entry is then only a candidate that fails `exact`). Entries are
 * written `{ k, v }` in that order, as lead-prop-index.ts stores them.
 */
function indexed(spec: FieldSpec, values: unknown[], exact: QueryFilter<LeadDoc>): QueryFilter<LeadDoc> {
  const key = spec.propertyKey;
  if (key === undefined) return exact;
  const entries = values.map((v) => ({ k: key, v }));
  const narrow = entries.length === 1 ? { propIndex: entries[0] } : { propIndex: { $in: entries } };
  return { $and: [narrow, exact] } as QueryFilter<LeadDoc>;
}

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** A condition's value typed like the stored values of its field. */
function typedValue(spec: FieldSpec, value: unknown, path: string, op: FilterOp): unknown {
  const wrong = (what: string) => bad(path, `${op} on this field takes ${what}`);
  switch (spec.kind) {
    case 'string':
      if (typeof value !== 'string') throw wrong('text');
      return value;
    case 'lowerString':
      if (typeof value !== 'string') throw wrong('text');
      return value.trim().toLowerCase();
    case 'tags':
      if (typeof value !== 'string') throw wrong('a tag');
      return value.trim().toLowerCase();
    case 'kind':
      if (value !== 'anonymous' && value !== 'verified' && value !== 'manual')
        throw wrong('anonymous, verified or manual');
      return value;
    case 'date': {
      if (typeof value !== 'string' || !ISO.test(value) || Number.isNaN(new Date(value).getTime()))
        throw wrong('an ISO 8601 date');
      return new Date(value);
    }
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw wrong('a number');
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw wrong('true or false');
      return value;
    case 'select':
    case 'multiselect': {
      if (typeof value !== 'string') throw wrong('an option');
      const typed = typeValue({ type: 'select', options: spec.property?.options ?? [] }, value);
      if (!typed.ok) throw bad(path, typed.message);
      return typed.value;
    }
  }
}

/** Free text: a prefix of the search keys, or, when it reads as a domain, every lead of that domain. */
export function freeTextFilter(q: string): QueryFilter<LeadDoc> {
  const text = q.trim().toLowerCase();
  const prefix: QueryFilter<LeadDoc> = { searchKeys: { $regex: `^${escapeRegex(text)}` } };
  const domain = text.startsWith('@') ? text.slice(1) : text;
  if (/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain)) return { $or: [prefix, { emailDomain: domain }] };
  return prefix;
}
