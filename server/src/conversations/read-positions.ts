import type { Conversation, ConversationReadResult, SenderRole } from '@parley/protocol';
import { AppError, notFound } from '../errors';
import type { EventBus } from '../infra/event-bus';
import type { MessageModel } from '../messages/message-model';
import { senderOf, type AgentActor, type VisitorActor } from './actor';
import { loadAccessibleConversation } from './conversation-access';
import type { ConversationDoc, ConversationModel } from './conversation-model';
import { toConversationFor } from './conversation-view';

/** Who reads: the conversation's visitor, or one agent of its project. */
export type Reader = { role: 'visitor' } | { role: 'agent'; agentId: string };

/** The sender role whose messages are unread for a reader: the other side's (never system notes). */
const otherSide = (reader: Reader): SenderRole => (reader.role === 'visitor' ? 'agent' : 'visitor');

/** Where a reader's position is stored on the conversation. */
const positionField = (reader: Reader): string =>
  reader.role === 'visitor' ? 'visitorReadSeq' : `agentReads.${reader.agentId}`;

export function readSeqOf(doc: ConversationDoc, reader: Reader): number {
  return (reader.role === 'visitor' ? doc.visitorReadSeq : doc.agentReads?.[reader.agentId]) ?? 0;
}

/**
 * How far each reader has read, and what is unread. Positions live on the conversation (the
 * visitor's, and one per agent), so an erasure takes them along and a list needs no second lookup.
 * They only move forward: one `$max` update, whatever order reads from several tabs or nodes
 * arrive in. Unread counts the other side's messages after the position, up to the conversation's
 * recorded `lastSeq` at the moment it is read, so a count and its `lastSeq` always agree and a
 * client can add the messages it hears after `lastSeq` (see the SDK's UnreadTracker).
 */
export class ReadPositions {
  constructor(
    private readonly conversations: ConversationModel,
    private readonly messages: MessageModel,
    private readonly bus: EventBus,
  ) {}

  async read(actor: VisitorActor | AgentActor, conversationId: string, seq: number): Promise<ConversationReadResult> {
    const current = await loadAccessibleConversation(this.conversations, actor, conversationId);
    // A message is readable once stored, a moment before it is recorded on the conversation: a
    // position on it is accepted; one beyond every stored message is not.
    if (seq > current.lastSeq && !(await this.messages.exists({ conversationId, seq }).exec()))
      throw new AppError('BAD_REQUEST', `Invalid input: seq is beyond the last message (${current.lastSeq})`, {
        fields: [{ field: 'seq', message: `is beyond the last message (${current.lastSeq})` }],
      });
    const reader: Reader = actor.role === 'visitor' ? { role: 'visitor' } : { role: 'agent', agentId: actor.agentId };
    const before = await this.conversations
      .findOneAndUpdate(
        { _id: conversationId },
        { $max: { [positionField(reader)]: seq } },
        { returnDocument: 'before' },
      )
      .lean<ConversationDoc>()
      .exec();
    if (!before) throw notFound('Conversation');
    const previous = readSeqOf(before, reader);
    const position = Math.max(previous, seq);
    const unreadCount = await this.unread(before, reader, position);
    const result: ConversationReadResult = { conversationId, seq: position, unreadCount, lastSeq: before.lastSeq };
    if (seq > previous)
      await this.bus.publish('message.read', {
        projectId: before.projectId,
        userId: before.userId,
        conversationId,
        reader: senderOf(actor),
        seq: position,
        readAt: new Date().toISOString(),
        unreadCount,
        lastSeq: before.lastSeq,
      });
    return result;
  }

  /** The conversations as this reader sees them: each with its unread count and read position. */
  async forReader(docs: ConversationDoc[], reader: Reader): Promise<Conversation[]> {
    return Promise.all(
      docs.map(async (doc) => {
        const position = readSeqOf(doc, reader);
        return toConversationFor(doc, await this.unread(doc, reader, position), position);
      }),
    );
  }

  /** The other side's messages in (position, lastSeq]; no query when nothing lies there. */
  private async unread(doc: ConversationDoc, reader: Reader, position: number): Promise<number> {
    if (position >= doc.lastSeq) return 0;
    return this.messages
      .countDocuments({
        conversationId: doc._id,
        seq: { $gt: position, $lte: doc.lastSeq },
        'sender.role': otherSide(reader),
      })
      .exec();
  }
}
