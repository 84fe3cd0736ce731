import type { EventBus } from '../infra/event-bus';
import { newId } from '../infra/ids';
import type { Logger } from '../infra/logger';
import { AppError } from '../errors';
import type { MessageService } from '../messages/message-service';
import type { ConversationModel, PendingNote } from './conversation-model';

/** A note not written this long after its change was left by a node that died: another node writes it. */
export const STALE_NOTE_MS = 10_000;
/** Conversations with stale notes handled per sweep; the next sweep takes the rest. */
const STALE_BATCH = 100;

export function newNote(text: string, at = new Date()): PendingNote {
  return { id: newId(), text, at };
}

/**
 * The history of status changes ("Ana resolved the conversation"): each change stores its note on
 * the conversation in the same atomic write, and the note becomes a system message right after
 * the change is announced. The message's `clientMessageId` is the note's id, so writing it twice
 * (a node that seemed dead was only slow) stores it once; a node that died in between leaves the
 * note on the conversation, where every node's sweep finds it (`finishStale`).
 */
export class StatusNotes {
  constructor(
    private readonly conversations: ConversationModel,
    private readonly messages: MessageService,
    bus: EventBus,
    private readonly logger: Logger,
  ) {
    bus.subscribe('conversation.updated', ({ conversation, note }) => {
      if (!note) return;
      this.write(conversation.projectId, conversation.id, note).catch((error: unknown) =>
        // Left on the conversation: a later sweep writes it.
        this.logger.warn({ err: error, conversationId: conversation.id }, 'status note not written yet'),
      );
    });
  }

  async write(projectId: string, conversationId: string, note: PendingNote): Promise<void> {
    try {
      await this.messages.send(
        { role: 'system', projectId },
        { conversationId, clientMessageId: `note:${note.id}`, text: note.text },
      );
    } catch (error) {
      // Erased meanwhile: nothing is owed any more.
      if (error instanceof AppError && error.code === 'NOT_FOUND') return;
      throw error;
    }
    await this.conversations.updateOne({ _id: conversationId }, { $pull: { pendingNotes: { id: note.id } } }).exec();
  }

  /** Writes the notes older than `STALE_NOTE_MS` (their node died before writing them); how many. */
  async finishStale(now: number): Promise<number> {
    const cutoff = new Date(now - STALE_NOTE_MS);
    const docs = await this.conversations
      .find({ 'pendingNotes.at': { $lte: cutoff } })
      .select({ _id: 1, projectId: 1, pendingNotes: 1 })
      .limit(STALE_BATCH)
      .lean<{ _id: string; projectId: string; pendingNotes?: PendingNote[] }[]>()
      .exec();
    let written = 0;
    for (const doc of docs) {
      // In the order the changes happened, so the history reads in that order.
      const stale = (doc.pendingNotes ?? [])
        .filter((n) => n.at.getTime() <= cutoff.getTime())
        .sort((a, b) => a.at.getTime() - b.at.getTime());
      for (const note of stale) {
        await this.write(doc.projectId, doc._id, note);
        written++;
      }
    }
    return written;
  }
}
