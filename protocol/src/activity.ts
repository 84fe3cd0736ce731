/**
 * Visitor activity (issue 15): page views and custom events the SDK reports over the visitor
 * socket, the live visitors list, and a contact's timeline. Activity is agents' own view of a
 * visitor: never pushed to visitors, and not a webhook event (see docs/PROTOCOL.md, "Activity").
 */
import type { Conversation, LeadField } from './entities';
import type { LeadNote } from './notes';

export type ActivityKind = 'page_view' | 'event';
export type ActivityPropValue = string | number | boolean | null;

/** One stored page view or custom event of a contact's visitor. */
export interface LeadActivity {
  id: string;
  projectId: string;
  /**
   * The visitor's contact. Absent while the visitor has none (browsing is not enough to become a
   * contact): its activity is then kept under its `userId` and joins the contact when it is made.
   */
  leadId?: string;
  /** The visitor (tab owner) who reported it. */
  userId: string;
  kind: ActivityKind;
  /** A custom event's name (`visitor.track(name)`); absent on page views. */
  name?: string;
  /** The page: the page viewed, or the page the event happened on when the SDK knows it. */
  url?: string;
  title?: string;
  referrer?: string;
  /** A custom event's properties. */
  props?: Record<string, ActivityPropValue>;
  createdAt: string;
}

/** Ack of `page:view` and `event:track`. */
export interface ActivityRecordResult {
  activityId: string;
  createdAt: string;
}

/** Push `lead.activity` (agents only): what the visitor just did, and on which page it is now. */
export interface LeadActivityEvent {
  activity: LeadActivity;
}

/** One visitor on the site now (every node's sockets counted once per visitor). */
export interface LiveVisitor {
  userId: string;
  /** The visitor's contact, when it has one. */
  leadId?: string;
  /** The page it viewed last (any tab), when the SDK reported one. */
  url?: string;
  title?: string;
  /** When its first open tab connected. */
  since: string;
  /** Its last page view, event or connection. */
  lastActiveAt: string;
  /** Open tabs (sockets), on every node. */
  tabs: number;
}

/** `GET /v1/projects/{projectId}/visitors/live`: the most recently active first. */
export interface LiveVisitorsResponse {
  items: LiveVisitor[];
  /** Every visitor on the site, even beyond the `items` returned (at most `LIMITS.liveVisitorsMax`). */
  total: number;
}

/** A change to a contact the timeline shows: an edit of its fields, or other contacts merged in. */
export interface LeadHistoryEntry {
  id: string;
  leadId: string;
  kind: 'edited' | 'merged';
  /** With `edited`: the fields that changed. */
  changes?: LeadField[];
  /** With `merged`: the contacts merged into this one. */
  mergedLeadIds?: string[];
  /** Who: `agent` (with its id), `visitor` (its user id), `customer` (a verified sign-in's claims), `import`. */
  by: { type: 'agent' | 'visitor' | 'customer' | 'import' | 'system'; id?: string };
  createdAt: string;
}

export type LeadTimelineItem =
  | { type: 'conversation'; id: string; at: string; conversation: Conversation }
  | { type: 'note'; id: string; at: string; note: LeadNote }
  | { type: 'activity'; id: string; at: string; activity: LeadActivity }
  | { type: 'history'; id: string; at: string; history: LeadHistoryEntry };

/** `GET …/leads/{leadId}/timeline`: newest first; `nextCursor` fetches the next page (null: the end). */
export interface LeadTimelinePage {
  items: LeadTimelineItem[];
  nextCursor: string | null;
}
