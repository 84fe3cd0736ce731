import type { Connection } from 'mongoose';
import type { Logger } from '../infra/logger';
import { rawCollection } from '../infra/raw-collection';
import type { ConversationModel } from './conversation-model';

/** The marker of this migration in the `migrations` collection. */
export const STATUS_MIGRATION_ID = 'conversation-statuses-2';

/**
 * Protocol 1.0 stored `assigned` (open, with an assignee) and `closed` with `closedAt`; this
 * version stores `open` (the assignee kept) and `resolved` with `resolvedAt`. Runs at start until
 * one run has finished (a marker says so, so later starts do not scan the collection); both
 * updates are idempotent, so nodes starting together, or a run cut short, do no harm. What a node
 * of the previous version writes after it (during a rolling deploy) is still read right: see
 * conversation-status.ts.
 */
export async function migrateConversationStatuses(
  connection: Connection,
  conversations: ConversationModel,
  logger: Logger,
): Promise<void> {
  const migrations = connection.collection<{ _id: string; doneAt: Date }>('migrations');
  if (await migrations.findOne({ _id: STATUS_MIGRATION_ID })) return;
  const collection = rawCollection(conversations);
  const assigned = await collection.updateMany({ status: 'assigned' }, { $set: { status: 'open' } });
  const closed = await collection.updateMany(
    { status: 'closed' },
    { $set: { status: 'resolved' }, $rename: { closedAt: 'resolvedAt' } },
  );
  await migrations.updateOne({ _id: STATUS_MIGRATION_ID }, { $set: { doneAt: new Date() } }, { upsert: true });
  if (assigned.modifiedCount + closed.modifiedCount > 0)
    logger.info(
      { assigned: assigned.modifiedCount, closed: closed.modifiedCount },
      'conversation statuses migrated: assigned → open, closed → resolved',
    );
}
