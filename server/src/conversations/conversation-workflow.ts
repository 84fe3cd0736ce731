import { LIMITS, type Conversation, type ConversationChange, type ConversationStatus } from '@parley/protocol';
import { AppError } from '../errors';
import type { EventBus } from '../infra/event-bus';
import { NO_OUTBOX, type OutboxMark, type OutboxMarker } from '../infra/outbox-mark';
import { changeActorOf, type AgentActor } from './actor';
import { loadAccessibleConversation } from './conversation-access';
import type { ConversationDoc, ConversationModel, PendingNote } from './conversation-model';
import { statusOf, storedOtherThan } from './conversation-status';
import { toConversation } from './conversation-view';
import { newNote } from './status-notes';

/** The fields that belong to one status (`closedAt`: protocol 1.0's `resolvedAt`). */
type StatusField = 'resolvedAt' | 'closedAt' | 'snoozedUntil';

/** What a change sets and clears besides the status. */
interface Move {
  set?: Partial<Pick<ConversationDoc, StatusField>>;
  unset?: StatusField[];
}

/** Every status change clears what belonged to the status it leaves. */
const LEAVING: StatusField[] = ['resolvedAt', 'closedAt', 'snoozedUntil'];
/** A status change raced by another one is tried again on top of it, this many times at most. */
const MAX_MOVE_ATTEMPTS = 5;

/**
 * The statuses agents move a conversation between (`resolve`, `reopen`, `snooze`, `pend`), and a
 * snooze's end (`wake`). Each change is one conditional write (`findOneAndUpdate` on the status it
 * comes from, read just before), so two agents, or two nodes waking the same snooze, change it once: the loser
 * finds it already there and changes, stores and announces nothing. The winner stores the change's
 * note in the same write and announces the change with it (StatusNotes writes the note as a system
 * message). A change to the status the conversation already has is a no-op.
 */
export class ConversationWorkflow {
  constructor(
    private readonly conversations: ConversationModel,
    private readonly bus: EventBus,
    private readonly now: () => number = Date.now,
    /** Marks changes whose events webhooks want, so that a crash cannot lose them (infra/outbox-mark.ts). */
    private readonly outbox: OutboxMarker = NO_OUTBOX,
  ) {}

  resolve(actor: AgentActor, conversationId: string): Promise<Conversation> {
    const at = new Date(this.now());
    return this.move(actor, conversationId, 'resolved', `${actor.name} resolved the conversation`, {
      set: { resolvedAt: at },
      unset: ['closedAt', 'snoozedUntil'],
    });
  }

  reopen(actor: AgentActor, conversationId: string): Promise<Conversation> {
    return this.move(actor, conversationId, 'open', `${actor.name} reopened the conversation`, { unset: LEAVING });
  }

  pend(actor: AgentActor, conversationId: string): Promise<Conversation> {
    return this.move(actor, conversationId, 'pending', `${actor.name} marked the conversation as pending`, {
      unset: LEAVING,
    });
  }

  /** Until `until`, in the future and at most `LIMITS.snoozeMaxDays` ahead; snoozing again moves it. */
  async snooze(actor: AgentActor, conversationId: string, until: string): Promise<Conversation> {
    const at = new Date(until);
    const now = this.now();
    if (at.getTime() <= now) throw untilRefused('must be in the future');
    if (at.getTime() > now + LIMITS.snoozeMaxDays * 86_400_000)
      throw untilRefused(`must be at most ${LIMITS.snoozeMaxDays} days ahead`);
    return this.move(
      actor,
      conversationId,
      'snoozed',
      `${actor.name} snoozed the conversation until ${at.toISOString()}`,
      { set: { snoozedUntil: at }, unset: ['resolvedAt', 'closedAt'] },
      // Snoozed already: a new time is a change, the same time (a retried command) is not.
      { $or: [{ status: { $in: storedOtherThan('snoozed') } }, { status: 'snoozed', snoozedUntil: { $ne: at } }] },
    );
  }

  /**
   * Ends a snooze that is due: back to `open`, by the system. False when it was not (any more)
   * snoozed and due: woken by another node, reopened, or snoozed again for later.
   */
  async wake(conversationId: string, projectId: string): Promise<boolean> {
    const at = new Date(this.now());
    const note = newNote('The snooze ended: the conversation is open again', at);
    const change: ConversationChange = { by: { type: 'system' }, previousStatus: 'snoozed' };
    const mark = await this.outbox.mark(projectId, 'conversation.updated', { change });
    const before = await this.conversations
      .findOneAndUpdate(
        { _id: conversationId, projectId, status: 'snoozed', snoozedUntil: { $lte: at } },
        {
          $set: { status: 'open', updatedAt: at },
          $unset: { snoozedUntil: '' },
          $push: { pendingNotes: note, ...(mark ? { outbox: mark } : {}) },
        },
        { returnDocument: 'before' },
      )
      .lean<ConversationDoc>()
      .exec();
    if (!before) return false;
    await this.announce(applied(before, 'open', at, { unset: ['snoozedUntil'] }, note), note, change, mark);
    return true;
  }

  private async move(
    actor: AgentActor,
    conversationId: string,
    to: ConversationStatus,
    noteText: string,
    move: Move,
    from: Record<string, unknown> = { status: { $in: storedOtherThan(to) } },
  ): Promise<Conversation> {
    const unset = Object.fromEntries((move.unset ?? []).map((key) => [key, '']));
    const by = changeActorOf(actor);
    for (let attempt = 0; attempt < MAX_MOVE_ATTEMPTS; attempt++) {
      // The status it leaves is read first and the write made conditional on it, so that the mark
      // (written in the same statement) holds the whole change: the event the sweeper rebuilds
      // after a crash is the one that would have been sent, `previousStatus` included.
      const current = await this.conversations
        .findOne({ _id: conversationId, projectId: actor.projectId })
        .select({ status: 1 })
        .lean<Pick<ConversationDoc, 'status'>>()
        .exec();
      if (!current) break;
      const at = new Date(this.now());
      const note = newNote(noteText, at);
      const change: ConversationChange = { by, previousStatus: statusOf(current.status) };
      const mark = await this.outbox.mark(actor.projectId, 'conversation.updated', { change });
      const before = await this.conversations
        .findOneAndUpdate(
          { $and: [{ _id: conversationId, projectId: actor.projectId, status: current.status }, from] },
          {
            $set: { ...move.set, status: to, updatedAt: at },
            ...(Object.keys(unset).length > 0 ? { $unset: unset } : {}),
            $push: { pendingNotes: note, ...(mark ? { outbox: mark } : {}) },
          },
          { returnDocument: 'before' },
        )
        .lean<ConversationDoc>()
        .exec();
      if (before) return this.announce(applied(before, to, at, move, note), note, change, mark);
      // Not changed: the status moved meanwhile (read it again), or it is where it goes already.
      const now = await this.conversations
        .findOne({ _id: conversationId, projectId: actor.projectId })
        .select({ status: 1 })
        .lean<Pick<ConversationDoc, 'status'>>()
        .exec();
      if (!now || now.status === current.status) break;
    }
    // Not changed: already there (or gone, which the read says with NOT_FOUND).
    return toConversation(await loadAccessibleConversation(this.conversations, actor, conversationId));
  }

  /** Announces the change; settles once its webhook event is recorded (before the change is acked). */
  private async announce(
    after: ConversationDoc,
    note: PendingNote,
    change: ConversationChange,
    mark?: OutboxMark,
  ): Promise<Conversation> {
    const conversation = toConversation(after);
    await this.bus.publish('conversation.updated', { conversation, change, note }, mark ? { mark } : {});
    return conversation;
  }
}

/** The document as the update left it: the one read before, with the update applied. */
function applied(
  before: ConversationDoc,
  to: ConversationStatus,
  at: Date,
  move: Move,
  note: PendingNote,
): ConversationDoc {
  const after: ConversationDoc = {
    ...before,
    ...move.set,
    status: to,
    updatedAt: at,
    pendingNotes: [...(before.pendingNotes ?? []), note],
  };
  for (const key of move.unset ?? []) delete after[key];
  return after;
}

function untilRefused(message: string): AppError {
  return new AppError('BAD_REQUEST', `Invalid input: until ${message}`, { fields: [{ field: 'until', message }] });
}
