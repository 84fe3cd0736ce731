import type { ConversationDoc } from '../conversations/conversation-model';

/**
 * The conversation states routing relies on, named in this file only. The workflow's statuses are
 * `open | pending | snoozed | resolved`; a database written by protocol 1.0 holds `assigned` and
 * `closed` until the status migration (conversations/status-migration.ts) has rewritten them, so
 * they are listed too: routing is right on such a document in the meantime.
 */

/** Done: never waiting, never counting against anyone's capacity. */
const ENDED: readonly string[] = ['resolved', 'closed'];

/** An assignee's conversations that go back to the queue when they go offline (not pending, not snoozed). */
export const REQUEUED_STATUSES: readonly string[] = ['open', 'assigned'];

/** The filter of the queue: open and unassigned (`null` matches a missing field, through the index). */
export const WAITING = { status: 'open', assigneeId: null } as const;

type States = Pick<ConversationDoc, 'status' | 'assigneeId'>;

/** Waiting for an agent. */
export function isWaiting(doc: States): boolean {
  return doc.status === 'open' && !doc.assigneeId;
}

/** Counts against its assignee's capacity: assigned and not done. */
export function countsForAssignee(doc: States): boolean {
  return Boolean(doc.assigneeId) && !ENDED.includes(doc.status);
}

export function isEnded(doc: Pick<ConversationDoc, 'status'>): boolean {
  return ENDED.includes(doc.status);
}

/** The statuses of conversations that count against their assignee's capacity, as a filter. */
export const COUNTING_STATUS = { $nin: ENDED } as const;

/** What an unassigned conversation's status becomes: the old `assigned` is `open` without an assignee. */
export function unassignedStatus(status: string): string {
  return status === 'assigned' ? 'open' : status;
}
