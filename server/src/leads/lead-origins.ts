import { LIMITS, type KeptApartValue, type Origin, type VisitorLeadView } from '@parley/protocol';
import { AppError } from '../errors';
import type { LeadDoc } from './lead-model';
import type { ProfilePatch } from './lead-profile';
import { sameStoredValue, toWireValue, type StoredAttributeValue } from '../properties/property-values';

/**
 * Who set each value of a contact, and what a visitor may therefore read and change.
 *
 * A contact can hold values from several parties: its own visitor, visitors whose contacts were
 * merged into it, the customer's verified sign-ins and agents. A visitor reads only values whose
 * origin names its own user id, and writes only those (or empty fields); a value it enters for a
 * field that holds someone else's is kept apart (`LeadDoc.keptApart`): it changes nothing the
 * contact shows, reveals nothing about what is there (no refusal to probe with), and stays that
 * visitor's own to read and change. Agents see everything, origins included.
 */

export const SCALAR_FIELDS = ['fullname', 'lastname', 'email', 'phone'] as const;
export type ScalarField = (typeof SCALAR_FIELDS)[number];
type StoredValue = Exclude<StoredAttributeValue, null>;
/** A kept-apart value is stored as the wire carries it (a scalar). */
const keptValue = (value: StoredValue) => toWireValue(value) as string | number | boolean;

export const visitorOrigin = (userId: string): Origin => `visitor:${userId}`;
export const customerOrigin = (userId: string): Origin => `customer:${userId}`;
export const isCustomerOrigin = (origin: Origin): boolean => origin.startsWith('customer:');

/** The user a visitor or customer origin speaks for; none for agents. */
export function userOf(origin: Origin): string | undefined {
  const colon = origin.indexOf(':');
  return colon < 0 ? undefined : origin.slice(colon + 1);
}

const attributePath = (key: string) => `attributes.${key}`;
const attributeKeyOf = (path: string): string | undefined =>
  path.startsWith('attributes.') ? path.slice('attributes.'.length) : undefined;

/** Paths of every value the lead holds: its scalar fields, then `attributes.{key}` in stored order. */
export function valuePaths(lead: Pick<LeadDoc, ScalarField | 'attributes'>): string[] {
  const paths: string[] = SCALAR_FIELDS.filter((field) => lead[field] !== undefined && lead[field] !== null);
  for (const key of Object.keys(lead.attributes)) paths.push(attributePath(key));
  return paths;
}

function valueAt(lead: Pick<LeadDoc, ScalarField | 'attributes'>, path: string): StoredValue | undefined {
  const key = attributeKeyOf(path);
  if (key === undefined) return lead[path as ScalarField] ?? undefined;
  return Object.hasOwn(lead.attributes, key) ? (lead.attributes[key] ?? undefined) : undefined;
}

/**
 * The origin of each value the lead holds. A value with no recorded origin was stored before
 * origins were: it counts as the agents' (nobody's visitor sees or changes it, the safe reading
 * for a value that may have come from a merge or an agent), except what a verified sign-in
 * vouched for then (`verifiedFields`), which stays that customer user's.
 */
export function originsOf(lead: LeadDoc): Map<string, Origin> {
  const recorded = new Map((lead.origins ?? []).map((entry) => [entry.field, entry.origin]));
  const vouched = new Set(lead.verifiedFields ?? []);
  const origins = new Map<string, Origin>();
  for (const path of valuePaths(lead)) {
    origins.set(path, recorded.get(path) ?? (vouched.has(path) ? customerOrigin(lead.userId) : 'agent'));
  }
  return origins;
}

/** What visitor `userId` sees of its contact: the values it set, on the contact or kept apart. */
export function visitorView(lead: LeadDoc, userId: string, hidden: ReadonlySet<string> = new Set()): VisitorLeadView {
  const mine = ownedBy(userId);
  const origins = originsOf(lead);
  const view: VisitorLeadView = { id: lead._id, attributes: {} };
  // Properties not `visibleToVisitor` are never shown, even a value the visitor set itself.
  const visible = (path: string) => !hidden.has(attributeKeyOf(path) ?? '');
  for (const path of valuePaths(lead)) {
    if (mine(origins.get(path)) && visible(path)) show(view, path, valueAt(lead, path));
  }
  for (const kept of lead.keptApart ?? []) {
    if (mine(kept.origin) && visible(kept.field)) show(view, kept.field, kept.value);
  }
  return view;
}

function show(view: VisitorLeadView, path: string, value: StoredValue | undefined): void {
  if (value === undefined) return;
  const key = attributeKeyOf(path);
  if (key !== undefined) {
    // Own keys only: `in` also finds what every object inherits (`toString`, `hasOwnProperty`),
    // which are ordinary attribute names to a visitor.
    if (!Object.hasOwn(view.attributes, key)) view.attributes[key] = toWireValue(value);
  } else if (view[path as ScalarField] === undefined) {
    view[path as ScalarField] = String(toWireValue(value));
  }
}

const ownedBy = (userId: string) => (origin: Origin | undefined) =>
  origin === visitorOrigin(userId) || origin === customerOrigin(userId);

export interface OwnWritePlan {
  /** What goes onto the contact: fields that are empty or already this user's. */
  onLead: ProfilePatch;
  /** The lead's whole `keptApart` after the write. */
  keptApart: KeptApartValue[];
}

/**
 * Splits a write by a visitor's `lead:update` or its verified sign-in's claims (`writer` is
 * `visitor:{userId}` or `customer:{userId}`) into what changes the contact and what is kept apart.
 * A visitor may re-send what its verified sign-in claimed, never change it (`FORBIDDEN`).
 */
export function planOwnWrite(lead: LeadDoc, writer: Origin, patch: ProfilePatch): OwnWritePlan {
  const userId = userOf(writer);
  if (userId === undefined) throw new Error('planOwnWrite needs a visitor or customer origin');
  const mine = ownedBy(userId);
  const origins = originsOf(lead);
  let keptApart = [...(lead.keptApart ?? [])];
  const onLead: ProfilePatch = {};
  const onLeadAttributes: NonNullable<ProfilePatch['attributes']> = {};
  const refused: string[] = [];

  const consider = (path: string, value: StoredValue | null) => {
    const current = valueAt(lead, path);
    const currentOrigin = current === undefined ? undefined : origins.get(path);
    const ownKept = keptApart.find((kept) => kept.field === path && mine(kept.origin));
    const own =
      currentOrigin !== undefined && mine(currentOrigin) ? { value: current, origin: currentOrigin } : ownKept;
    if (own && value !== null && sameStoredValue(value, own.value)) {
      // Nothing changes, except that a verified sign-in vouches for a value its visitor typed.
      if (own.origin === writer || !isCustomerOrigin(writer)) return;
    } else if (own && isCustomerOrigin(own.origin) && !isCustomerOrigin(writer)) {
      refused.push(path);
      return;
    }
    keptApart = keptApart.filter((kept) => kept !== ownKept);
    if (current === undefined || mine(currentOrigin)) {
      const key = attributeKeyOf(path);
      if (key !== undefined) onLeadAttributes[key] = value;
      else onLead[path as ScalarField] = value === null ? null : String(value);
    } else if (value !== null) {
      keptApart.push({ field: path, value: keptValue(value), origin: writer });
    }
  };

  for (const field of SCALAR_FIELDS) {
    const value = patch[field];
    if (value !== undefined) consider(field, value);
  }
  for (const [key, value] of Object.entries(patch.attributes ?? {})) consider(attributePath(key), value);
  if (Object.keys(onLeadAttributes).length > 0) onLead.attributes = onLeadAttributes;

  if (refused.length > 0) {
    throw new AppError('FORBIDDEN', 'These fields come from your verified sign-in and cannot be changed here', {
      fields: refused.map((field) => ({ field, message: 'set by the verified sign-in' })),
    });
  }
  // Kept-apart values are bounded per user like the contact's own attributes.
  const ownKeptCount = keptApart.filter((kept) => mine(kept.origin)).length;
  if (ownKeptCount > LIMITS.attributesMax + SCALAR_FIELDS.length) {
    throw new AppError('BAD_REQUEST', 'The contact would exceed its limits', {
      fields: [{ field: 'attributes', message: `at most ${LIMITS.attributesMax} attributes are kept` }],
    });
  }
  return { onLead, keptApart };
}

/**
 * What a merge keeps apart on the target: each source's visitor or customer values that the target
 * does not end up holding with the same origin (its own value won), and what the sources already
 * kept apart. Agents' values that lose are dropped, as they always were. Adding an item that is
 * there already (same field and user) changes nothing, so a repeated merge adds nothing twice.
 */
export function keptApartAfterMerge(
  target: LeadDoc,
  filled: Map<string, { value: StoredValue; origin: Origin }>,
  sources: LeadDoc[],
): KeptApartValue[] {
  const targetOrigins = originsOf(target);
  const keptApart = [...(target.keptApart ?? [])];
  const add = (item: KeptApartValue) => {
    const user = userOf(item.origin);
    if (!keptApart.some((kept) => kept.field === item.field && userOf(kept.origin) === user)) keptApart.push(item);
  };
  for (const source of sources) {
    const sourceOrigins = originsOf(source);
    for (const path of valuePaths(source)) {
      const origin = sourceOrigins.get(path);
      const value = valueAt(source, path);
      if (origin === undefined || value === undefined || userOf(origin) === undefined) continue;
      const final =
        filled.get(path) ??
        (valueAt(target, path) !== undefined
          ? { value: valueAt(target, path), origin: targetOrigins.get(path) }
          : null);
      if (final && final.value !== undefined && sameStoredValue(final.value, value) && final.origin === origin)
        continue;
      add({ field: path, value: keptValue(value), origin });
    }
    for (const kept of source.keptApart ?? []) add(kept);
  }
  return keptApart;
}
