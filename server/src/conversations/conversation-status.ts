import type { ConversationStatus } from '@parley/protocol';
import type { StoredStatus } from './conversation-model';

/**
 * Protocol 1.0's statuses as this version reads them: `assigned` was an open conversation with an
 * assignee (the assignee is kept), `closed` a resolved one. The status migration rewrites stored
 * conversations once; these mappings cover what a node of the previous version writes meanwhile.
 */
export function statusOf(stored: StoredStatus): ConversationStatus {
  if (stored === 'assigned') return 'open';
  if (stored === 'closed') return 'resolved';
  return stored;
}

/** The stored values that mean `status`, for queries. */
export function storedAs(status: ConversationStatus): StoredStatus[] {
  if (status === 'open') return ['open', 'assigned'];
  if (status === 'resolved') return ['resolved', 'closed'];
  return [status];
}

/** Every stored value but those that mean `status`: where a change to `status` may come from. */
export function storedOtherThan(status: ConversationStatus): StoredStatus[] {
  const all: StoredStatus[] = ['open', 'pending', 'snoozed', 'resolved', 'assigned', 'closed'];
  const same = storedAs(status);
  return all.filter((s) => !same.includes(s));
}
