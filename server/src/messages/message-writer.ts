import type { Message } from '@parley/protocol';
import type { mongo } from 'mongoose';
import { AppError, isDuplicateKeyError } from '../errors';
import type { EventBus } from '../infra/event-bus';
import { newId } from '../infra/ids';
import { rawCollection } from '../infra/raw-collection';
import { senderOf, type Actor } from '../conversations/actor';
import { assertAccessible } from '../conversations/conversation-access';
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

export interface SendResult {
  message: Message;
  conversation: ConversationDoc;
  /** False when `clientMessageId` was seen before: the stored message is returned, nothing new. */
  created: boolean;
}

/** One send waiting in a batch; settled exactly once. */
export interface PendingSend {
  key: string;
  actor: Actor;
  input: SendInput;
  beforeWrite?: () => Promise<void>;
  resolve(result: SendResult): void;
  reject(error: unknown): void;
}

/** A message about to be recorded on its conversation. */
interface Entry {
  actor: Actor;
  conversation: ConversationDoc;
  doc: MessageDoc;
}

interface Staged extends Entry {
  send: PendingSend;
}

/** The driver's per-statement error of an unordered insertMany. */
interface WriteErrorLike {
  index: number;
  code?: number;
  errmsg?: string;
  err?: { keyPattern?: Record<string, unknown> };
  errInfo?: unknown;
}

function writeErrorsOf(error: unknown): WriteErrorLike[] | undefined {
  const list = (error as { writeErrors?: unknown } | null)?.writeErrors;
  if (Array.isArray(list)) return list as WriteErrorLike[];
  return undefined;
}

/** Which unique index a write error hit: by key pattern when the driver passes it, else by its name. */
function hitClientIdIndex(e: WriteErrorLike): boolean {
  const pattern = e.err?.keyPattern;
  if (pattern) return 'clientMessageId' in pattern;
  return /clientMessageId/.test(e.errmsg ?? '');
}

function newDoc(actor: Actor, input: SendInput, conversation: ConversationDoc, seq: number): MessageDoc {
  return {
    _id: newId(),
    conversationId: conversation._id,
    projectId: conversation.projectId,
    seq,
    clientMessageId: input.clientMessageId,
    sender: senderOf(actor),
    text: input.text,
    createdAt: new Date(),
  };
}

/**
 * Stores messages. The normal path writes a whole batch of sends (one per conversation, see
 * GroupCommit) with three round trips however large the batch: one read of the conversations, one
 * unordered insertMany, one bulk update of the conversations. Every send is settled only after
 * its insert returned, and published only after its conversation was updated, exactly as one at a
 * time. Duplicates are left to the unique indexes, as before:
 * - `(conversationId, sender.id, clientMessageId)`: a retry; the stored message is returned;
 * - `(conversationId, seq)`: another node took that seq; that send goes the one-at-a-time way,
 *   which re-reads the end of the conversation and takes the next seq.
 */
export class MessageWriter {
  constructor(
    private readonly messages: MessageModel,
    private readonly conversations: ConversationModel,
    private readonly bus: EventBus,
  ) {}

  /** Settles every send of the batch, whatever happens. */
  async writeBatch(batch: PendingSend[]): Promise<void> {
    try {
      await this.stageAndWrite(batch);
    } catch (error) {
      // Sends already settled ignore this (their promises are settled); the others fail, unacked.
      for (const send of batch) send.reject(error);
    }
  }

  private async stageAndWrite(batch: PendingSend[]): Promise<void> {
    const ids = [...new Set(batch.map((s) => s.input.conversationId))];
    const found = await this.conversations
      .find({ _id: { $in: ids } })
      .lean<ConversationDoc[]>()
      .exec();
    const byId = new Map(found.map((c) => [c._id, c]));

    // Access first, then the send's own checks (rate limits), as for a single send.
    const admitted = await Promise.all(
      batch.map(async (send) => {
        try {
          const conversation = assertAccessible(byId.get(send.input.conversationId), send.actor);
          await send.beforeWrite?.();
          return { send, conversation };
        } catch (error) {
          send.reject(error);
          return undefined;
        }
      }),
    );
    const staged: Staged[] = [];
    for (const entry of admitted) {
      if (!entry) continue;
      const { send, conversation } = entry;
      staged.push({
        send,
        conversation,
        actor: send.actor,
        doc: newDoc(send.actor, send.input, conversation, conversation.lastSeq + 1),
      });
    }
    if (staged.length === 0) return;

    const failed = await this.insertAll(staged);
    const inserted = staged.filter((_, i) => !failed.has(i));
    await Promise.all(
      [...failed].map(async ([index, writeError]) => {
        const { send, conversation } = staged[index] as Staged;
        try {
          // The driver's message stays in the log (toAppError), never in the ack.
          if (writeError.code !== 11000) throw new Error(`message insert failed: ${writeError.errmsg ?? 'unknown'}`);
          send.resolve(
            hitClientIdIndex(writeError)
              ? await this.existing(send, conversation)
              : await this.storeOne(send.actor, conversation, send.input),
          );
        } catch (error) {
          send.reject(error);
        }
      }),
    );
    if (inserted.length === 0) return;
    const updated = await this.recordOnConversations(inserted);
    inserted.forEach((entry, i) => {
      const message = toMessage(entry.doc);
      const conversation = updated[i] as ConversationDoc;
      this.bus.publish('message.created', { message, conversation: toConversation(conversation) });
      entry.send.resolve({ message, conversation, created: true });
    });
  }

  /** Unordered insertMany; returns the statements that failed, by index. */
  private async insertAll(staged: Staged[]): Promise<Map<number, WriteErrorLike>> {
    const failed = new Map<number, WriteErrorLike>();
    try {
      await rawCollection(this.messages).insertMany(
        staged.map((s) => s.doc),
        { ordered: false },
      );
    } catch (error) {
      const writeErrors = writeErrorsOf(error);
      if (!writeErrors) throw error;
      for (const e of writeErrors) failed.set(e.index, e);
    }
    return failed;
  }

  /**
   * A retry: the message its first attempt stored (or, if that is gone, a store like any other).
   * When the conversation's end is still before that message, the first attempt stored it but its
   * node stopped before recording it on the conversation and announcing it: finish both now, so a
   * crash half-way is completed by the retry (nothing was announced the first time).
   */
  private async existing(send: PendingSend, conversation: ConversationDoc): Promise<SendResult> {
    const found = await this.findByClientId(conversation._id, senderOf(send.actor).id, send.input.clientMessageId);
    if (!found) return this.storeOne(send.actor, conversation, send.input);
    const message = toMessage(found);
    if (conversation.lastSeq >= found.seq) return { message, conversation, created: false };
    const [updated] = await this.recordOnConversations([{ actor: send.actor, conversation, doc: found }]);
    this.bus.publish('message.created', { message, conversation: toConversation(updated as ConversationDoc) });
    return { message, conversation: updated as ConversationDoc, created: false };
  }

  /**
   * One send on its own, for when the batch's seq was taken by another node: re-read the end of
   * the conversation and take the next seq, until one is free (or the retry was recognised).
   *
   * Messages stored past the conversation's recorded end belong to a writer that has not recorded
   * them yet: one still at work on another node, or one that died between its insert and its
   * conversation update. This writer's record moves the end past them, so it announces them too;
   * otherwise a dead writer's message would never reach live listeners. (A live writer announces
   * its own as well: in that race a message can be announced twice, never not at all. Listeners
   * de-duplicate by seq, as the SDK does.)
   */
  async storeOne(actor: Actor, conversation: ConversationDoc, input: SendInput): Promise<SendResult> {
    for (let attempt = 0; attempt < MAX_SEQ_ATTEMPTS; attempt++) {
      const lastStored = await this.lastStoredSeq(conversation._id);
      const doc = newDoc(actor, input, conversation, lastStored + 1);
      try {
        await rawCollection(this.messages).insertOne(doc);
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        const existing = await this.findByClientId(conversation._id, doc.sender.id, input.clientMessageId);
        if (existing) return { message: toMessage(existing), conversation, created: false };
        continue;
      }
      const recordedEnd =
        (await this.conversations.findById(conversation._id).select({ lastSeq: 1 }).lean<{ lastSeq: number }>().exec())
          ?.lastSeq ?? conversation.lastSeq;
      const unrecorded = await this.messages
        .find({ conversationId: conversation._id, seq: { $gt: recordedEnd, $lt: doc.seq } })
        .sort({ seq: 1 })
        .lean<MessageDoc[]>()
        .exec();
      const [updated] = await this.recordOnConversations([{ actor, conversation, doc }]);
      const fresh = toConversation(updated as ConversationDoc);
      for (const orphan of unrecorded)
        this.bus.publish('message.created', { message: toMessage(orphan), conversation: fresh });
      const message = toMessage(doc);
      this.bus.publish('message.created', { message, conversation: fresh });
      return { message, conversation: updated as ConversationDoc, created: true };
    }
    throw new AppError('UNAVAILABLE', 'The conversation is too busy right now; try again');
  }

  /**
   * Moves each conversation's end forward, in one bulk write with one statement per message:
   * `lastSeq`, `lastMessage`, `updatedAt` (and reopening a closed conversation a visitor writes
   * to), conditional on `lastSeq` being behind, so that when nodes store out of order the newest
   * message stays the conversation's `lastMessage`. `messageCount` is the number of messages,
   * which with gapless seqs is the highest seq recorded, so it moves with `lastSeq` and recording a
   * message twice (a retry finishing a crashed send) can never count it twice. When every
   * statement matched (always, on one node) the new state is known; otherwise the conversations
   * are read back.
   */
  private async recordOnConversations(entries: Entry[]): Promise<ConversationDoc[]> {
    const reopening = entries.map(
      ({ actor, conversation }) => actor.role === 'visitor' && conversation.status === 'closed',
    );
    const operations: mongo.AnyBulkWriteOperation<ConversationDoc>[] = entries.map(({ conversation, doc }, i) => {
      const lastMessage = { text: doc.text, senderRole: doc.sender.role, createdAt: doc.createdAt };
      const set: Record<string, unknown> = {
        lastSeq: doc.seq,
        messageCount: doc.seq,
        lastMessage,
        updatedAt: doc.createdAt,
      };
      if (reopening[i]) set['status'] = conversation.assigneeId ? 'assigned' : 'open';
      return {
        updateOne: {
          filter: { _id: conversation._id, lastSeq: { $lt: doc.seq } },
          update: reopening[i] ? { $set: set, $unset: { closedAt: '' } } : { $set: set },
        },
      };
    });
    const result = await rawCollection(this.conversations).bulkWrite(operations, { ordered: false });
    const allMatched = result.matchedCount === operations.length;
    const readBack = allMatched
      ? undefined
      : new Map(
          (
            await this.conversations
              .find({ _id: { $in: entries.map((e) => e.conversation._id) } })
              .lean<ConversationDoc[]>()
              .exec()
          ).map((c) => [c._id, c]),
        );

    return entries.map(({ conversation, doc }, i) => {
      const fresh = readBack?.get(conversation._id);
      if (fresh) {
        // Another node recorded a newer message: its state stands. A reopen is announced anyway
        // (harmless if someone else announced it too).
        if (reopening[i] && fresh.status !== 'closed')
          this.bus.publish('conversation.updated', { conversation: toConversation(fresh) });
        return fresh;
      }
      const updated: ConversationDoc = {
        ...conversation,
        lastSeq: Math.max(conversation.lastSeq, doc.seq),
        messageCount: Math.max(conversation.lastSeq, doc.seq),
        updatedAt: doc.createdAt,
        lastMessage: { text: doc.text, senderRole: doc.sender.role, createdAt: doc.createdAt },
      };
      if (reopening[i]) {
        updated.status = conversation.assigneeId ? 'assigned' : 'open';
        delete updated.closedAt;
        this.bus.publish('conversation.updated', { conversation: toConversation(updated) });
      }
      return updated;
    });
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
