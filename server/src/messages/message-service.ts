import type { Message } from '@parley/protocol';
import { AppError, notFound } from '../errors';
import type { EventBus } from '../infra/event-bus';
import type { Actor } from '../conversations/actor';
import { loadAccessibleConversation } from '../conversations/conversation-access';
import type { ConversationModel } from '../conversations/conversation-model';
import { GroupCommit } from './group-commit';
import type { MessageDoc, MessageModel } from './message-model';
import { toMessage } from './message-view';
import {
  MessageWriter,
  type MessageWriterOptions,
  type PendingSend,
  type SendInput,
  type SendResult,
} from './message-writer';

export type { SendInput, SendResult } from './message-writer';

export interface SendOptions {
  /** Runs after the access check and before anything is written (rate limits); may throw. */
  beforeWrite?: () => Promise<void>;
}

export interface HistoryPage {
  messages: Message[];
  hasMore: boolean;
}

/**
 * Larger batches cost one long event-loop turn to build and answer; 256 sends keep that to a few
 * milliseconds while a busy node still writes hundreds of messages per round trip.
 */
const MAX_BATCH = 256;
/** Two batches in flight: one being written while the next one is read and checked. */
const MAX_IN_FLIGHT = 2;

/**
 * Messages. Each conversation's messages are numbered 1, 2, 3… with no gap and no repeat:
 * - within a node, a conversation's sends are written in arrival order, one batch after another
 *   (GroupCommit), so each batch numbers them on from where the previous one ended;
 * - sends to many conversations are written together (group commit, see MessageWriter);
 * - across nodes, the unique `(conversationId, seq)` index arbitrates: a writer that lost the race
 *   for a seq re-reads the end of the conversation and takes the next one.
 * A retry with the same `clientMessageId` hits the other unique index and gets the stored message.
 * A message is acknowledged only after its insert returned.
 */
export class MessageService {
  private readonly writer: MessageWriter;
  private readonly commits: GroupCommit<PendingSend>;

  constructor(
    private readonly messages: MessageModel,
    private readonly conversations: ConversationModel,
    bus: EventBus,
    private readonly maxTextLength: number,
    writerOptions: MessageWriterOptions = {},
  ) {
    this.writer = new MessageWriter(messages, conversations, bus, writerOptions);
    this.commits = new GroupCommit(
      (batch) => {
        writerOptions.load?.foreground(this.commits.pending);
        return this.writer.writeBatch(batch);
      },
      {
        maxBatch: MAX_BATCH,
        maxInFlight: MAX_IN_FLIGHT,
      },
    );
  }

  /** The configured limit; the protocol schema only enforces the hard cap. */
  assertText(text: string): void {
    if (text.length > this.maxTextLength) {
      throw new AppError('PAYLOAD_TOO_LARGE', `Message text is longer than ${this.maxTextLength} characters`);
    }
  }

  /** Call without awaiting anything first: the send's place in line is taken synchronously. */
  send(actor: Actor, input: SendInput, options: SendOptions = {}): Promise<SendResult> {
    try {
      this.assertText(input.text);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<SendResult>((resolve, reject) =>
      this.commits.submit({
        key: input.conversationId,
        actor,
        input,
        ...(options.beforeWrite ? { beforeWrite: options.beforeWrite } : {}),
        resolve,
        reject,
      }),
    );
  }

  async history(actor: Actor, conversationId: string, afterSeq = 0, limit = 50): Promise<HistoryPage> {
    await loadAccessibleConversation(this.conversations, actor, conversationId);
    return this.page(conversationId, afterSeq, limit);
  }

  /**
   * A page of a conversation's messages for agents of `projectId` (REST), whose project is all
   * there is to check; a conversation of another project is "not found".
   */
  async pageInProject(
    projectId: string,
    conversationId: string,
    afterSeq: number,
    limit: number,
  ): Promise<HistoryPage> {
    const exists = await this.conversations.exists({ _id: conversationId, projectId }).exec();
    if (!exists) throw notFound('Conversation');
    return this.page(conversationId, afterSeq, limit);
  }

  private async page(conversationId: string, afterSeq: number, limit: number): Promise<HistoryPage> {
    const docs = await this.messages
      .find({ conversationId, seq: { $gt: afterSeq } })
      .sort({ seq: 1 })
      .limit(limit + 1)
      .lean<MessageDoc[]>()
      .exec();
    const hasMore = docs.length > limit;
    return { messages: docs.slice(0, limit).map(toMessage), hasMore };
  }
}
