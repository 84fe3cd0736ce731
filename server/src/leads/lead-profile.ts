import { LIMITS, type LeadField, type Origin } from '@parley/protocol';
import { AppError } from '../errors';
import type { LeadDoc } from './lead-model';
import { emailDomainOf } from './lead-email-domain';
import { sameStoredValue, type StoredAttributeValue } from '../properties/property-values';
import { originsOf, SCALAR_FIELDS, valuePaths } from './lead-origins';
import { propIndexOf, samePropIndex } from './lead-prop-index';

/**
 * A change to a lead's profile. `undefined` leaves a field alone, `null` clears it; attributes
 * merge key by key and a `null` value removes the key.
 */
export interface ProfilePatch {
  fullname?: string | null;
  lastname?: string | null;
  email?: string | null;
  phone?: string | null;
  /** Typed by the project's properties before it gets here (see properties/property-service.ts). */
  attributes?: Record<string, StoredAttributeValue>;
  tags?: string[];
}

export interface ProfileDiff {
  $set: Record<string, unknown>;
  $unset: Record<string, ''>;
  changes: LeadField[];
  /** The lead as it is after the change. */
  after: LeadDoc;
}

/** Who a change comes from, field by field (`email`, `attributes.plan`): recorded as their origins. */
export interface ProfileAuthor {
  origin: (path: string) => Origin;
  /**
   * Whether re-sending a value that is already there makes it the author's: a verified sign-in
   * vouches for what its visitor typed; an agent re-typing a visitor's value leaves it the visitor's.
   */
  claimsEqualValues?: boolean;
}

/** Values a `q` search matches by prefix, lower-cased and de-duplicated. */
export function searchKeysOf(doc: Pick<LeadDoc, 'fullname' | 'lastname' | 'email' | 'phone'>): string[] {
  const keys = new Set<string>();
  const add = (value: string | undefined) => {
    const key = value?.trim().toLowerCase();
    if (key) keys.add(key);
  };
  add(doc.fullname);
  for (const word of doc.fullname?.split(/\s+/) ?? []) add(word);
  add(doc.lastname);
  add(doc.email);
  add(doc.phone);
  const digits = doc.phone?.replace(/\D/g, '');
  if (digits) add(digits);
  return [...keys];
}

/**
 * What applying `patch` to `before` changes, origins included; nothing at all when every value is
 * already there (and, with `claimsEqualValues`, already the author's).
 */
export function diffProfile(before: LeadDoc, patch: ProfilePatch, now: Date, author: ProfileAuthor): ProfileDiff {
  const $set: Record<string, unknown> = {};
  const $unset: Record<string, ''> = {};
  const changes: LeadField[] = [];
  const after: LeadDoc = {
    ...before,
    attributes: { ...before.attributes },
    tags: [...before.tags],
  };
  const origins = originsOf(before);
  const claims: string[] = [];

  for (const field of SCALAR_FIELDS) {
    const value = patch[field];
    if (value === undefined) continue;
    const current = before[field] ?? null;
    if (value === current) {
      if (value !== null) claims.push(field);
      continue;
    }
    changes.push(field);
    origins.set(field, author.origin(field));
    if (value === null) {
      $unset[field] = '';
      delete after[field];
    } else {
      $set[field] = value;
      after[field] = value;
    }
  }

  if (patch.attributes) {
    let changed = false;
    for (const [key, value] of Object.entries(patch.attributes)) {
      const has = Object.hasOwn(before.attributes, key);
      if (value === null) {
        if (!has) continue;
        $unset[`attributes.${key}`] = '';
        delete after.attributes[key];
      } else {
        if (has && sameStoredValue(before.attributes[key], value)) {
          claims.push(`attributes.${key}`);
          continue;
        }
        origins.set(`attributes.${key}`, author.origin(`attributes.${key}`));
        $set[`attributes.${key}`] = value;
        after.attributes[key] = value;
      }
      changed = true;
    }
    if (changed) changes.push('attributes');
  }

  if (patch.tags) {
    const tags = [...new Set(patch.tags)];
    if (tags.length !== before.tags.length || tags.some((t, i) => t !== before.tags[i])) {
      $set['tags'] = tags;
      after.tags = tags;
      changes.push('tags');
    }
  }

  assertWithinLimits(after);

  if (author.claimsEqualValues) for (const path of claims) origins.set(path, author.origin(path));
  // Listed in the order of the values after the change; removed values lose their origin.
  const originList = valuePaths(after).map((field) => ({ field, origin: origins.get(field) ?? author.origin(field) }));
  const beforeList = [...originsOf(before)].map(([field, origin]) => ({ field, origin }));
  if (JSON.stringify(originList) !== JSON.stringify(beforeList)) {
    $set['origins'] = originList;
    after.origins = originList;
  }

  if (changes.length > 0) {
    after.searchKeys = searchKeysOf(after);
    $set['searchKeys'] = after.searchKeys;
    const domain = emailDomainOf(after.email);
    if (domain !== before.emailDomain) {
      if (domain === undefined) {
        $unset['emailDomain'] = '';
        delete after.emailDomain;
      } else {
        $set['emailDomain'] = domain;
        after.emailDomain = domain;
      }
    }
    // Recomputed from the attributes as they will be: the update is a compare-and-set on `rev`, so
    // they are the stored ones. Also fills it in for a lead stored before it existed.
    const propIndex = propIndexOf(after.attributes);
    if (!samePropIndex(before.propIndex, propIndex)) {
      $set['propIndex'] = propIndex;
      after.propIndex = propIndex;
    }
    $set['updatedAt'] = now;
    after.updatedAt = now;
    after.rev = before.rev + 1;
  }
  return { $set, $unset, changes, after };
}

/** The profile fields a new lead starts with, from a pre-chat form or a verified token, and their origin. */
export function initialProfile(patch: ProfilePatch, origin: Origin): Partial<LeadDoc> {
  const doc: Partial<LeadDoc> = {};
  for (const field of SCALAR_FIELDS) {
    const value = patch[field];
    if (typeof value === 'string') doc[field] = value;
  }
  const attributes: Record<string, StoredAttributeValue> = {};
  for (const [key, value] of Object.entries(patch.attributes ?? {})) if (value !== null) attributes[key] = value;
  doc.attributes = attributes;
  doc.propIndex = propIndexOf(attributes);
  doc.tags = [...new Set(patch.tags ?? [])];
  doc.searchKeys = searchKeysOf(doc);
  const domain = emailDomainOf(doc.email);
  if (domain) doc.emailDomain = domain;
  doc.origins = valuePaths({ ...doc, attributes }).map((field) => ({ field, origin }));
  return doc;
}

/**
 * The per-request schema bounds each input; this bounds the stored result, which many requests
 * (or a merge) could otherwise grow without end towards MongoDB's 16 MB document limit.
 */
export function assertWithinLimits(lead: Pick<LeadDoc, 'attributes' | 'tags'>): void {
  const fields: { field: string; message: string }[] = [];
  const attributeCount = Object.keys(lead.attributes).length;
  if (attributeCount > LIMITS.attributesMax) {
    fields.push({
      field: 'attributes',
      message: `the contact would have ${attributeCount} attributes; at most ${LIMITS.attributesMax} are kept (remove some with null)`,
    });
  }
  if (lead.tags.length > LIMITS.tagsMax) {
    fields.push({
      field: 'tags',
      message: `the contact would have ${lead.tags.length} tags; at most ${LIMITS.tagsMax}`,
    });
  }
  if (fields.length > 0) throw new AppError('BAD_REQUEST', 'The contact would exceed its limits', { fields });
}
