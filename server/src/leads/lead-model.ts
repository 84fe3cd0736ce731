import { Schema, type Connection, type Model } from 'mongoose';
import type { KeptApartValue, LeadKind, Origin } from '@parley/protocol';
import { outboxMarksPath, type OutboxMark } from '../infra/outbox-mark';
import type { StoredAttributeValue } from '../properties/property-values';
import type { PendingHistory } from './lead-history-model';
import type { PropIndexEntry } from './lead-prop-index';

export interface LeadDoc {
  _id: string;
  projectId: string;
  /** The visitor's identity: the anonymous UUID, the customer's user id, or a minted one (manual). */
  userId: string;
  kind: LeadKind;
  fullname?: string;
  lastname?: string;
  /** Trimmed and lower-cased, so an exact search ignores case by using the index. */
  email?: string;
  phone?: string;
  /**
   * The email's domain, lower-cased (`example.com`): contact filters and free-text search find every
   * lead of a domain by it. Leads stored before it existed get it from `backfillEmailDomains`.
   */
  emailDomain?: string;
  /** Typed where a property defines the key (see properties/property-values.ts). */
  attributes: Record<string, StoredAttributeValue>;
  /**
   * Derived from `attributes` by `propIndexOf` (lead-prop-index.ts): one `{ k, v }` per value (per
   * option of a multiselect), so that property filters are served by an index. Kept true by every
   * write of `attributes`; leads stored before it existed get it from `backfillPropIndex`.
   */
  propIndex?: PropIndexEntry[];
  tags: string[];
  /**
   * Lower-cased values that a `q` search matches by prefix: fullname and each of its words,
   * lastname, email, phone (and its digits). An anchored regex on this multikey field is an index
   * range scan.
   */
  searchKeys: string[];
  conversationCount: number;
  /** Incremented on every change: updates are compare-and-set on it, so racing edits never mix. */
  rev: number;
  createdAt: Date;
  updatedAt: Date;
  lastSeenAt?: Date;
  mergedInto?: string;
  /**
   * Legacy (before `origins`): profile fields a verified sign-in's token set. Read only, as
   * `customer:{userId}` origins of leads stored before origins were recorded; no longer written.
   */
  verifiedFields?: string[];
  /**
   * Who set each profile value (`fullname`, `attributes.plan`…); see `lead-origins.ts`. An array,
   * not a map, because attribute keys may not be safe as stored field names. A set value without an
   * entry (leads stored before origins) counts as the agents'.
   */
  origins?: { field: string; origin: Origin }[];
  /** Values visitors entered for fields that hold another party's value; see `lead-origins.ts`. */
  keptApart?: KeptApartValue[];
  /**
   * Set while the lead is blocked (issue 15), on the lead and on every lead merged into it, so that
   * a visitor's token is judged from its own user's document alone (see visitor-block-gate.ts).
   */
  blocked?: { at: Date; by: string };
  /** Incremented on every block and unblock: the shared copy of the state never goes back. */
  blockRev?: number;
  /** The import that created this contact (server/src/imports), if one did. */
  importId?: string;
  /** Timeline entries of changes not yet copied to the history collection (see lead-history.ts). */
  historyPending?: PendingHistory[];
  /** Outbox marks of changes whose webhook events are not recorded yet (see infra/outbox-mark.ts). */
  outbox?: OutboxMark[];
}

const leadSchema = new Schema<LeadDoc>(
  {
    _id: { type: String, required: true },
    projectId: { type: String, required: true },
    userId: { type: String, required: true },
    kind: {
      type: String,
      required: true,
      enum: ['anonymous', 'verified', 'manual'],
    },
    fullname: String,
    lastname: String,
    email: String,
    phone: String,
    emailDomain: String,
    attributes: { type: Schema.Types.Mixed, default: {} },
    // Mixed: stored exactly as built, `{ k, v }` in that order (no casting, no subdocument _id).
    propIndex: { type: Schema.Types.Mixed, default: undefined },
    tags: { type: [String], default: [] },
    searchKeys: { type: [String], default: [] },
    conversationCount: { type: Number, default: 0 },
    rev: { type: Number, default: 0 },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    lastSeenAt: Date,
    mergedInto: String,
    verifiedFields: { type: [String], default: undefined },
    // Mixed: written whole by the service's compare-and-set updates, never cast field by field.
    origins: { type: Schema.Types.Mixed, default: undefined },
    keptApart: { type: Schema.Types.Mixed, default: undefined },
    blocked: { type: Schema.Types.Mixed, default: undefined },
    blockRev: Number,
    importId: String,
    outbox: outboxMarksPath,
    historyPending: { type: [Schema.Types.Mixed], default: undefined },
  },
  // Timestamps are set by the service: `updatedAt` must move only when a field really changed.
  { versionKey: false, minimize: false },
);

// Exactly one lead per user of a project, however many requests race to create it.
leadSchema.index({ projectId: 1, userId: 1 }, { unique: true });
// Exact email search (many leads may share an email: one per browser until merged).
leadSchema.index({ projectId: 1, email: 1 });
// Every lead of an email domain (filters, and a free-text search that reads as a domain).
leadSchema.index({ projectId: 1, emailDomain: 1 });
// Prefix search over names, email and phone.
leadSchema.index({ projectId: 1, searchKeys: 1 });
leadSchema.index({ projectId: 1, tags: 1 });
// Filters on custom properties (`properties.KEY` eq/in, multiselect membership): attributes are
// free-form keys, which no index can name one by one; `propIndex` holds every value as `{ k, v }`,
// so one multikey index serves a condition on any property as an equality on a whole entry.
leadSchema.index({ projectId: 1, propIndex: 1 });
// The default listing: most recently changed first, `_id` breaking ties, so pages come straight
// off the index in order (no in-memory sort of a whole project).
leadSchema.index({ projectId: 1, updatedAt: -1, _id: -1 });
// The CSV export: oldest first, streamed in index order.
leadSchema.index({ projectId: 1, createdAt: 1, _id: 1 });
// Merges and erasures find the leads merged into a lead.
leadSchema.index({ projectId: 1, mergedInto: 1 }, { sparse: true });

// Marks a crash left behind, for the outbox sweeper (sparse: only marked documents are in it).
leadSchema.index({ 'outbox.at': 1 }, { sparse: true });

export type LeadModel = Model<LeadDoc>;

export function registerLeadModel(connection: Connection): LeadModel {
  return connection.model<LeadDoc>('Lead', leadSchema, 'leads');
}
