import type { Message } from '@parley/protocol';
import { AppError, duplicateKeyFields, isDuplicateKeyError } from '../errors';
import type { EventBus } from '../infra/event-bus';
import { newId } from '../infra/ids';
import { KeyedQueue } from '../infra/keyed-queue';
import { rawCollection } from '../infra/raw-collection';
import { senderOf, type Actor } from '../conversations/actor';
import { loadAccessibleConversation } from '../conversations/conversation-access';
import type { ConversationDoc, ConversationModel } from '../conversations/conversation-model';
import { toConversation } from '../conversations/conversation-view';
import type { MessageDoc, MessageModel } from './message-model';
import { toMessage } from './message-view';

/** Attempts at a free seq when other nodes keep taking the next one; each attempt re-reads the end. */
const MAX_SEQ_ATTEMPTS = 20;

export interface SendInput {
  conversationId: string;
  clientMessageId: string;
  text: string;
}

export interface SendOptions {
  /** Runs in the conversation's queue before anything is written (rate limits); may throw. */
  beforeWrite?: () => Promise<void>;
}

export interface SendResult {
  message: Message;
  conversation: ConversationDoc;
  /** False when `clientMessageId` was seen before: the stored message is returned, nothing new. */
  created: boolean;
}

export interface HistoryPage {
  messages: Message[];
  hasMore: boolean;
}

/**
 * Messages. Each conversation's messages are numbered 1, 2, 3… with no gap and no repeat:
 * - within a node, sends to one conversation run one at a time in arrival order (KeyedQueue);
 * - across nodes, the unique `(conversationId, seq)` index arbitrates: a writer that lost the race
 *   for a seq re-reads the end of the conversation and takes the next one.
 * A retry with the same `clientMessageId` hits the other unique index and gets the stored message.
 * A message is acknowledged only after its insert returned.
 */
export class MessageService {
  private readonly queue = new KeyedQueue();

  constructor(
    private readonly messages: MessageModel,
    private readonly conversations: ConversationModel,
    private readonly bus: EventBus,
    private readonly maxTextLength: number,
  ) {}

  /** Call without awaiting anything first: the send's place in line is taken synchronously. */
  send(actor: Actor, input: SendInput, options: SendOptions = {}): Promise<SendResult> {
    if (input.text.length > this.maxTextLength) {
      return Promise.reject(
        new AppError('PAYLOAD_TOO_LARGE', `Message text is longer than ${this.maxTextLength} characters`),
      );
    }
    return this.queue.run(input.conversationId, async () => {
      const conversation = await loadAccessibleConversation(this.conversations, actor, input.conversationId);
      await options.beforeWrite?.();
      return this.store(actor, conversation, input);
    });
  }

  async history(actor: Actor, conversationId: string, afterSeq = 0, limit = 50): Promise<HistoryPage> {
    await loadAccessibleConversation(this.conversations, actor, conversationId);
    return this.page(conversationId, afterSeq, limit);
  }

  /** For callers that already checked access (REST for agents). */
  async page(conversationId: string, afterSeq: number, limit: number): Promise<HistoryPage> {
    const docs = await this.messages
      .find({ conversationId, seq: { $gt: afterSeq } })
      .sort({ seq: 1 })
      .limit(limit + 1)
      .lean<MessageDoc[]>()
      .exec();
    const hasMore = docs.length > limit;
    return { messages: docs.slice(0, limit).map(toMessage), hasMore };
  }

  private async store(actor: Actor, conversation: ConversationDoc, input: SendInput): Promise<SendResult> {
    let seq = conversation.lastSeq + 1;
    for (let attempt = 0; attempt < MAX_SEQ_ATTEMPTS; attempt++) {
      const doc: MessageDoc = {
        _id: newId(),
        conversationId: conversation._id,
        projectId: conversation.projectId,
        seq,
        clientMessageId: input.clientMessageId,
        sender: senderOf(actor),
        text: input.text,
        createdAt: new Date(),
      };
      try {
        await rawCollection(this.messages).insertOne(doc);
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        if (duplicateKeyFields(error).includes('clientMessageId')) {
          const existing = await this.findByClientId(conversation._id, doc.sender.id, input.clientMessageId);
          if (existing)
            return {
              message: toMessage(existing),
              conversation,
              created: false,
            };
        }
        seq = (await this.lastStoredSeq(conversation._id)) + 1;
        continue;
      }
      const updated = await this.recordOnConversation(actor, conversation, doc);
      const message = toMessage(doc);
      this.bus.publish('message.created', {
        message,
        conversation: toConversation(updated),
      });
      return { message, conversation: updated, created: true };
    }
    throw new AppError('UNAVAILABLE', 'The conversation is too busy right now; try again');
  }

  /**
   * Moves the conversation's end forward. Conditional on `lastSeq`, so that when nodes store out of
   * order the newest message stays the conversation's `lastMessage`. A visitor writing into a
   * closed conversation reopens it.
   */
  private async recordOnConversation(
    actor: Actor,
    conversation: ConversationDoc,
    doc: MessageDoc,
  ): Promise<ConversationDoc> {
    const lastMessage = {
      text: doc.text,
      senderRole: doc.sender.role,
      createdAt: doc.createdAt,
    };
    const reopen = actor.role === 'visitor' && conversation.status === 'closed';
    const set: Record<string, unknown> = {
      lastSeq: doc.seq,
      lastMessage,
      updatedAt: doc.createdAt,
    };
    if (reopen) set['status'] = conversation.assigneeId ? 'assigned' : 'open';
    const update: Record<string, unknown> = {
      $set: set,
      $inc: { messageCount: 1 },
    };
    if (reopen) update['$unset'] = { closedAt: '' };
    const result = await this.conversations
      .updateOne({ _id: conversation._id, lastSeq: { $lt: doc.seq } }, update)
      .exec();
    if (result.matchedCount === 0) {
      await this.conversations.updateOne({ _id: conversation._id }, { $inc: { messageCount: 1 } }).exec();
    }
    const updated: ConversationDoc = {
      ...conversation,
      lastSeq: Math.max(conversation.lastSeq, doc.seq),
      messageCount: conversation.messageCount + 1,
      updatedAt: doc.createdAt,
      ...(result.matchedCount === 1 ? { lastMessage } : {}),
    };
    if (reopen && result.matchedCount === 1) {
      updated.status = conversation.assigneeId ? 'assigned' : 'open';
      delete updated.closedAt;
      this.bus.publish('conversation.updated', {
        conversation: toConversation(updated),
      });
    }
    return updated;
  }

  private async findByClientId(
    conversationId: string,
    senderId: string,
    clientMessageId: string,
  ): Promise<MessageDoc | null> {
    return this.messages.findOne({ conversationId, 'sender.id': senderId, clientMessageId }).lean<MessageDoc>().exec();
  }

  private async lastStoredSeq(conversationId: string): Promise<number> {
    const last = await this.messages
      .findOne({ conversationId })
      .sort({ seq: -1 })
      .select({ seq: 1 })
      .lean<{ seq: number }>()
      .exec();
    return last?.seq ?? 0;
  }
}
