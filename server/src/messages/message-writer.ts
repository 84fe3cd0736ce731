import type {
  Conversation,
  ConversationChange,
  ConversationStatus,
  Message,
  ResolvedConversationReply,
} from '@parley/protocol';
import type { mongo } from 'mongoose';
import { AppError, isDuplicateKeyError, notFound } from '../errors';
import type { EventBus } from '../infra/event-bus';
import { newId } from '../infra/ids';
import { marksOf, NO_OUTBOX, type OutboxMark, type OutboxMarker } from '../infra/outbox-mark';
import { rawCollection } from '../infra/raw-collection';
import { senderOf, type Actor } from '../conversations/actor';
import { assertAccessible } from '../conversations/conversation-access';
import type { ConversationDoc, ConversationModel } from '../conversations/conversation-model';
import { statusOf } from '../conversations/conversation-status';
import { toConversation } from '../conversations/conversation-view';
import { TtlCache } from '../infra/ttl-cache';
import type { MessageDoc, MessageModel } from './message-model';
import { toMessage } from './message-view';

/** Attempts at a free seq when other nodes keep taking the next one; each attempt re-reads the end. */
const MAX_SEQ_ATTEMPTS = 20;
/** Re-records when the conversation changed under the writer (another node joined or resolved it). */
const MAX_RECORD_ATTEMPTS = 5;
/** Enough for every conversation active on a busy node at once; a miss costs one read. */
const CACHED_CONVERSATIONS = 10_000;

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

/** The newest message of a conversation's group, to be recorded on the conversation. */
interface Entry {
  conversation: ConversationDoc;
  doc: MessageDoc;
  /** A visitor wrote: a pending, snoozed or resolved conversation opens again. */
  reopens: boolean;
}

/**
 * What a visitor's message does to the status: every status but `open` means nobody is waiting for
 * an agent, and the visitor now is, so the conversation opens again (`from` is what it was). No
 * status note is written: the visitor's message, in the history, is what reopened it.
 */
function reopeningOf(entry: Entry): ConversationStatus | undefined {
  if (!entry.reopens) return undefined;
  const from = statusOf(entry.conversation.status);
  return from === 'open' ? undefined : from;
}

/** The change a visitor's message makes when it opens the conversation again. */
function reopenChange(conversation: ConversationDoc, from: ConversationStatus): ConversationChange {
  return { by: { type: 'visitor', id: conversation.userId }, previousStatus: from };
}

/**
 * A visitor's message into a resolved conversation of a project that starts a new conversation
 * instead (`resolvedConversationReply: new`): refused before anything is written, for the caller to
 * continue in a new conversation (ConversationService.reply).
 */
export class ConversationResolvedError extends AppError {
  constructor(readonly conversation: ConversationDoc) {
    super('CONFLICT', 'The conversation is resolved; the message starts a new one');
  }
}

export interface MessageWriterOptions {
  /** What a visitor's message into a resolved conversation of this project does; `reopen` if unset. */
  resolvedReply?: (projectId: string) => Promise<ResolvedConversationReply>;
  /** Marks messages (and reopens) whose events webhooks want; see infra/outbox-mark.ts. */
  outbox?: OutboxMarker;
  /**
   * Told of each batch of messages written, with how many sends still wait behind it: background
   * work (webhook deliveries) gives way while messages keep the node busy (see LoadGauge).
   */
  load?: { foreground(waiting: number): void };
}

/** A send with its message, numbered, ready to insert. */
interface Staged {
  send: PendingSend;
  doc: MessageDoc;
  /** Sends in the same batch with the same sender and clientMessageId: they get this one's result. */
  twins: PendingSend[];
}

/** One conversation's sends in a batch, in arrival order, numbered from its recorded end. */
interface Group {
  conversation: ConversationDoc;
  staged: Staged[];
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

function newDoc(
  actor: Actor,
  input: SendInput,
  conversation: ConversationDoc,
  seq: number,
  mark?: OutboxMark,
): MessageDoc {
  return {
    _id: newId(),
    conversationId: conversation._id,
    projectId: conversation.projectId,
    seq,
    clientMessageId: input.clientMessageId,
    sender: senderOf(actor),
    text: input.text,
    createdAt: new Date(),
    // Inserted with the message: its `message.created` survives a crash before it was recorded.
    ...(mark ? { outbox: [mark] } : {}),
  };
}

/** Settles a publish now, so that a failed record is never an unhandled rejection while others are awaited. */
function settle(recorded: Promise<void>): Promise<{ error?: unknown }> {
  return recorded.then(
    () => ({}),
    (error: unknown) => ({ error }),
  );
}

/**
 * Stores messages. The normal path writes a whole batch of sends (every waiting send of each
 * conversation, see GroupCommit) with two round trips however large the batch: one unordered
 * ordered insertMany and one bulk update of the conversations; the conversations come from a
 * cache (a miss adds one read), which the bulk update's conditions keep honest. A conversation's
 * sends in a batch take consecutive seqs after its recorded end. Every send is settled only after
 * its insert returned, and published only after its conversation was updated, exactly as one at a
 * time. Duplicates are left to the unique indexes:
 * - `(conversationId, sender.id, clientMessageId)`: a retry; the stored message is returned;
 * - `(conversationId, seq)`: another node took that seq.
 * When a statement fails, the insert stops there: that conversation's later messages were never
 * stored and, with the failed one, go the one-at-a-time way, which re-reads the end and takes the
 * next seq each; the other conversations behind it are inserted again. A stored message is never
 * deleted to make room (only when its conversation was erased): readers see messages as soon as
 * they are stored, before they are recorded on the conversation, and clients merge by seq, so a
 * message must keep the seq it was first readable at.
 */
export class MessageWriter {
  /**
   * The conversations this node writes to, so that a batch does not start with a read of each.
   * What the writer relies on is either immutable (project, visitor) or checked by the database
   * when it records a message (see recordOnConversations), so an entry never needs to expire: a
   * stale one (another node wrote, joined, resolved or erased) costs a round trip, never a wrong
   * answer. Entries are re-set on every record, so the least recently written go first.
   */
  private readonly cache = new TtlCache<ConversationDoc>(Infinity, Infinity, CACHED_CONVERSATIONS);

  private readonly outbox: OutboxMarker;

  constructor(
    private readonly messages: MessageModel,
    private readonly conversations: ConversationModel,
    private readonly bus: EventBus,
    private readonly options: MessageWriterOptions = {},
  ) {
    this.outbox = options.outbox ?? NO_OUTBOX;
    // Changes made elsewhere on this node (join, close, merge) are read afresh by the next batch.
    bus.subscribe('conversation.updated', ({ conversation }) => this.cache.delete(conversation.id));
  }

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
    const byId = await this.conversationsOf(batch);
    const continuing = await this.underContinuation(batch, byId);
    const marking = await this.outbox.wanting(
      [...byId.values()].map((c) => c.projectId),
      'message.created',
    );
    const groups = this.stage(await this.admit(batch, byId, continuing), marking);
    // A group's sends are contiguous here (group after group), which is what the rounds rely on.
    let left = [...groups.values()].flatMap((group) => group.staged.map((staged) => ({ group, staged })));
    if (left.length === 0) return;

    // Ordered inserts: the database stores the messages before the first failing one and none
    // after it, so what is stored is always, per conversation, a gapless run from its end. Nothing
    // stored is ever taken back: a reader (a catch-up, another node's writer, a crash recovery)
    // may have seen it already, and a message must keep the seq it was first readable at.
    const kept = new Map<Group, Staged[]>();
    const redo: { group: Group; staged: Staged[]; failure: WriteErrorLike }[] = [];
    while (left.length > 0) {
      const failure = await this.insertInOrder(left.map((s) => s.staged.doc));
      const stored = failure ? left.slice(0, failure.index) : left;
      for (const { group, staged } of stored) kept.set(group, [...(kept.get(group) ?? []), staged]);
      if (!failure) break;
      // The failed send's conversation goes the one-at-a-time way from it on; the other
      // conversations behind it were not written and go again, with the seqs they were given.
      const { group, staged } = left[failure.index] as { group: Group; staged: Staged };
      redo.push({ group, staged: group.staged.slice(group.staged.indexOf(staged)), failure });
      left = left.slice(failure.index + 1).filter((s) => s.group !== group);
    }

    const recorded =
      kept.size > 0
        ? await this.recordKept([...kept].map(([group, staged]) => ({ group, staged })))
        : new Map<string, ConversationDoc>();
    // The one-at-a-time way, conversations side by side, each conversation's sends in order.
    await Promise.all(
      redo.map(({ group, staged, failure }) =>
        this.redoOneByOne(recorded.get(group.conversation._id) ?? group.conversation, staged, failure),
      ),
    );
  }

  /** The batch's conversations: from the cache, the missing ones read in one query. */
  private async conversationsOf(batch: PendingSend[]): Promise<Map<string, ConversationDoc>> {
    const byId = new Map<string, ConversationDoc>();
    const missing: string[] = [];
    for (const id of new Set(batch.map((s) => s.input.conversationId))) {
      const cached = this.cache.peek(id)?.value;
      if (cached) byId.set(id, cached);
      else missing.push(id);
    }
    if (missing.length > 0) {
      const found = await this.conversations
        .find({ _id: { $in: missing } })
        .lean<ConversationDoc[]>()
        .exec();
      for (const doc of found) {
        this.cache.set(doc._id, doc);
        byId.set(doc._id, doc);
      }
    }
    return byId;
  }

  /** Access first, then the send's own checks (rate limits), as for a single send; refusals settle here. */
  private async admit(
    batch: PendingSend[],
    byId: Map<string, ConversationDoc>,
    continuing: Set<string>,
  ): Promise<{ send: PendingSend; conversation: ConversationDoc }[]> {
    const admitted = await Promise.all(
      batch.map(async (send) => {
        try {
          const conversation = assertAccessible(byId.get(send.input.conversationId), send.actor);
          // Refused before its rate limits count: the caller continues in a new conversation.
          if (
            send.actor.role === 'visitor' &&
            continuing.has(conversation._id) &&
            statusOf(conversation.status) === 'resolved'
          )
            throw new ConversationResolvedError(conversation);
          await send.beforeWrite?.();
          return { send, conversation };
        } catch (error) {
          send.reject(error);
          return undefined;
        }
      }),
    );
    return admitted.filter((a) => a !== undefined);
  }

  /**
   * The conversations visitors write to in projects that continue a resolved conversation in a
   * new one (`resolvedConversationReply: new`), read afresh into `byId`: a cached status may be
   * stale (resolved through another node), and a message written into a resolved conversation
   * cannot be moved. One read per such conversation and batch; projects that reopen pay nothing.
   * A conversation resolved elsewhere between this read and the write is reopened by the message
   * instead, the safe way round (a message is never left where nobody looks).
   */
  private async underContinuation(batch: PendingSend[], byId: Map<string, ConversationDoc>): Promise<Set<string>> {
    const continuing = new Set<string>();
    const resolvedReply = this.options.resolvedReply;
    if (!resolvedReply) return continuing;
    const candidates = new Map<string, ConversationDoc>();
    for (const send of batch) {
      const conversation = byId.get(send.input.conversationId);
      if (send.actor.role === 'visitor' && conversation?.projectId === send.actor.projectId)
        candidates.set(conversation._id, conversation);
    }
    await Promise.all(
      [...candidates.values()].map(async (conversation) => {
        if ((await resolvedReply(conversation.projectId)) !== 'new') return;
        continuing.add(conversation._id);
        const fresh = await this.conversations.findById(conversation._id).lean<ConversationDoc>().exec();
        if (fresh) {
          this.cache.set(fresh._id, fresh);
          byId.set(fresh._id, fresh);
        } else {
          // Erased meanwhile: its sends are refused as not found.
          this.cache.delete(conversation._id);
          byId.delete(conversation._id);
        }
      }),
    );
    return continuing;
  }

  /**
   * Groups the sends by conversation, in arrival order, numbered on from each conversation's end.
   * The same sender and clientMessageId twice in one batch is one message: the second is a twin.
   */
  private stage(
    admitted: { send: PendingSend; conversation: ConversationDoc }[],
    marking: Set<string>,
  ): Map<string, Group> {
    const groups = new Map<string, Group>();
    const byClientKey = new Map<string, Staged>();
    for (const { send, conversation } of admitted) {
      let group = groups.get(conversation._id);
      if (!group) groups.set(conversation._id, (group = { conversation, staged: [] }));
      const clientKey = `${conversation._id}\0${senderOf(send.actor).id}\0${send.input.clientMessageId}`;
      const first = byClientKey.get(clientKey);
      if (first) {
        first.twins.push(send);
        continue;
      }
      const mark = marking.has(conversation.projectId) ? this.outbox.stamp('message.created') : undefined;
      const doc = newDoc(send.actor, send.input, conversation, conversation.lastSeq + 1 + group.staged.length, mark);
      const staged: Staged = { send, doc, twins: [] };
      byClientKey.set(clientKey, staged);
      group.staged.push(staged);
    }
    return groups;
  }

  /** Records the kept messages on their conversations, then announces and acknowledges them. */
  private async recordKept(kept: { group: Group; staged: Staged[] }[]): Promise<Map<string, ConversationDoc>> {
    const recorded = new Map<string, ConversationDoc>();
    const updated = await this.recordOnConversations(
      kept.map(({ group, staged }) => ({
        conversation: group.conversation,
        doc: (staged[staged.length - 1] as Staged).doc,
        reopens: staged.some((s) => s.send.actor.role === 'visitor'),
      })),
    );
    const vanished: Staged[] = [];
    const published: { s: Staged; result: SendResult; recorded: Promise<{ error?: unknown }> }[] = [];
    kept.forEach(({ group, staged }, i) => {
      const conversation = updated[i];
      if (!conversation) {
        vanished.push(...staged);
        return;
      }
      recorded.set(group.conversation._id, conversation);
      const view = toConversation(conversation);
      for (const s of staged) {
        const message = toMessage(s.doc);
        const mark = marksOf(s.doc, 'message.created');
        const recordedEvent = this.bus.publish(
          'message.created',
          { message, conversation: view },
          mark ? { mark } : {},
        );
        published.push({ s, result: { message, conversation, created: true }, recorded: settle(recordedEvent) });
      }
    });
    // Acknowledged once its event is in the webhook outbox (at once when no webhook wants it).
    await Promise.all(
      published.map(async ({ s, result, recorded: outcome }) => {
        const { error } = await outcome;
        if (error !== undefined) {
          for (const send of [s.send, ...s.twins]) send.reject(error);
          return;
        }
        s.send.resolve(result);
        for (const twin of s.twins) twin.resolve({ ...result, created: false });
      }),
    );
    // Erased (on another node) since the cache read it: its messages go too, unacknowledged.
    if (vanished.length > 0) {
      await this.messages.deleteMany({ _id: { $in: vanished.map((s) => s.doc._id) } }).exec();
      for (const s of vanished) for (const send of [s.send, ...s.twins]) send.reject(notFound('Conversation'));
    }
    return recorded;
  }

  /** A conversation's sends from a failed insert on (the first one failed), one at a time and in order. */
  private async redoOneByOne(start: ConversationDoc, staged: Staged[], firstFailure: WriteErrorLike): Promise<void> {
    let conversation = start;
    for (const [i, s] of staged.entries()) {
      const failure = i === 0 ? firstFailure : undefined;
      try {
        // The driver's message stays in the log (toAppError), never in the ack.
        if (failure && failure.code !== 11000) throw new Error(`message insert failed: ${failure.errmsg ?? 'unknown'}`);
        const result =
          failure && hitClientIdIndex(failure)
            ? await this.existing(s.send, conversation)
            : await this.storeOne(s.send.actor, conversation, s.send.input);
        conversation = result.conversation;
        s.send.resolve(result);
        for (const twin of s.twins) twin.resolve({ ...result, created: false });
      } catch (error) {
        s.send.reject(error);
        for (const twin of s.twins) twin.reject(error);
      }
    }
  }

  /** Ordered insertMany; returns the statement that failed (the ones after it were not tried), if any. */
  private async insertInOrder(docs: MessageDoc[]): Promise<WriteErrorLike | undefined> {
    try {
      await rawCollection(this.messages).insertMany(docs, { ordered: true });
      return undefined;
    } catch (error) {
      const [first] = writeErrorsOf(error) ?? [];
      if (!first) throw error;
      return first;
    }
  }

  /** A retry: the message its first attempt stored (or, if that is gone, a store like any other). */
  private async existing(send: PendingSend, cached: ConversationDoc): Promise<SendResult> {
    const found = await this.findByClientId(cached._id, senderOf(send.actor).id, send.input.clientMessageId);
    if (!found) return this.storeOne(send.actor, cached, send.input);
    return this.retried(send.actor, found, cached._id);
  }

  /**
   * A retry's answer: the message its first attempt stored. When the conversation's end is still
   * before that message, the first attempt stored it but never recorded it on the conversation or
   * announced it (its node crashed, or the database went away between the insert and the update,
   * so it was never acknowledged either): finish both now, so the retry completes what was cut
   * half-way (nothing was announced the first time).
   */
  private async retried(actor: Actor, found: MessageDoc, conversationId: string): Promise<SendResult> {
    const message = toMessage(found);
    // Whether it was recorded is decided on the conversation as it is now, not as cached.
    const conversation = await this.fresh(conversationId);
    if (conversation.lastSeq >= found.seq) return { message, conversation, created: false };
    // Stored before it by the same crashed writer and not recorded either (their own retries will
    // find them recorded and announce nothing): announced with it, or live listeners never hear them.
    const unrecorded = await this.unrecordedBetween(conversation._id, conversation.lastSeq, found.seq);
    const reopens = actor.role === 'visitor';
    const updated = await this.recordOne({ conversation, doc: found, reopens });
    const view = toConversation(updated);
    await this.announce([...unrecorded, found], view);
    return { message, conversation: updated, created: false };
  }

  /** The conversation as stored now (refreshing the cache); NOT_FOUND once it was erased. */
  private async fresh(id: string): Promise<ConversationDoc> {
    const doc = await this.conversations.findById(id).lean<ConversationDoc>().exec();
    if (!doc) {
      this.cache.delete(id);
      throw notFound('Conversation');
    }
    this.cache.set(doc._id, doc);
    return doc;
  }

  private async recordOne(entry: Entry): Promise<ConversationDoc> {
    const [updated] = await this.recordOnConversations([entry]);
    if (!updated) throw notFound('Conversation');
    return updated;
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
    const wanted = (await this.outbox.wanting([conversation.projectId], 'message.created')).size > 0;
    for (let attempt = 0; attempt < MAX_SEQ_ATTEMPTS; attempt++) {
      const lastStored = await this.lastStoredSeq(conversation._id);
      const doc = newDoc(
        actor,
        input,
        conversation,
        lastStored + 1,
        wanted ? this.outbox.stamp('message.created') : undefined,
      );
      try {
        await rawCollection(this.messages).insertOne(doc);
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
        const existing = await this.findByClientId(conversation._id, doc.sender.id, input.clientMessageId);
        // A retry whose seq was taken, here by its own first attempt (the seq index answered first).
        if (existing) return this.retried(actor, existing, conversation._id);
        continue;
      }
      const recordedEnd =
        (await this.conversations.findById(conversation._id).select({ lastSeq: 1 }).lean<{ lastSeq: number }>().exec())
          ?.lastSeq ?? conversation.lastSeq;
      const unrecorded = await this.unrecordedBetween(conversation._id, recordedEnd, doc.seq);
      let updated: ConversationDoc;
      try {
        updated = await this.recordOne({ conversation, doc, reopens: actor.role === 'visitor' });
      } catch (error) {
        // Erased meanwhile: the message goes with its conversation. Otherwise (too busy) it stays,
        // readable at its seq like a crashed writer's, and the retry of this send records it.
        if (error instanceof AppError && error.code === 'NOT_FOUND')
          await this.messages.deleteOne({ _id: doc._id }).exec();
        throw error;
      }
      await this.announce([...unrecorded, doc], toConversation(updated));
      return { message: toMessage(doc), conversation: updated, created: true };
    }
    throw new AppError('UNAVAILABLE', 'The conversation is too busy right now; try again');
  }

  /** Publishes stored messages in seq order, each with its own mark; settles once every one is recorded. */
  private async announce(docs: MessageDoc[], conversation: Conversation): Promise<void> {
    const outcomes = docs.map((doc) => {
      const mark = marksOf(doc, 'message.created');
      return settle(
        this.bus.publish('message.created', { message: toMessage(doc), conversation }, mark ? { mark } : {}),
      );
    });
    for (const { error } of await Promise.all(outcomes)) if (error !== undefined) throw error;
  }

  /**
   * Moves each conversation's end forward, in one bulk write with one statement per conversation:
   * `lastSeq`, `lastMessage`, `lastMessageAt`, `updatedAt` (and opening again a pending, snoozed or
   * resolved conversation a visitor writes to, see `reopeningOf`). `messageCount` is the number of messages, which with gapless seqs is the highest seq
   * recorded, so it moves with `lastSeq` and recording a message twice (a retry finishing a crashed
   * send) can never count it twice.
   *
   * Each statement applies only while the conversation is as the writer believes (`lastSeq`
   * behind, the same status and assignee presence, which decide a reopen). When every statement
   * matched (always, on one node with a fresh cache) the new state is known; otherwise the
   * conversations are read back: one whose end is already past the message was recorded further
   * by another node, and its state stands; one still behind had changed under a stale cache, and
   * is recorded again from what was read; one that is gone was erased (undefined).
   */
  private async recordOnConversations(entries: Entry[], attempt = 0): Promise<(ConversationDoc | undefined)[]> {
    // Reopens are announced as the statements settle; the batch is acknowledged once every one of
    // them is in the webhook outbox (see EventBus.publish).
    const announced: Promise<{ error?: unknown }>[] = [];
    const results = await this.recordStatements(entries, announced, attempt);
    for (const { error } of await Promise.all(announced)) if (error !== undefined) throw error;
    return results;
  }

  private async recordStatements(
    entries: Entry[],
    announced: Promise<{ error?: unknown }>[],
    attempt: number,
  ): Promise<(ConversationDoc | undefined)[]> {
    const reopening = entries.map(reopeningOf);
    const changes = entries.map((entry, i) => {
      const from = reopening[i];
      return from ? reopenChange(entry.conversation, from) : undefined;
    });
    // A reopen is a `conversation.updated`: marked in the same statement as the reopen itself, with
    // its change (the sweeper rebuilds the event from the document and the mark).
    const marks = await Promise.all(
      entries.map(({ conversation }, i) => {
        const change = changes[i];
        return change ? this.outbox.mark(conversation.projectId, 'conversation.updated', { change }) : undefined;
      }),
    );
    const announceReopen = (conversation: ConversationDoc, i: number) => {
      const change = changes[i];
      if (!change) return;
      const mark = marks[i];
      announced.push(
        settle(
          this.bus.publish(
            'conversation.updated',
            { conversation: toConversation(conversation), change },
            mark ? { mark } : {},
          ),
        ),
      );
    };
    const operations: mongo.AnyBulkWriteOperation<ConversationDoc>[] = entries.map(({ conversation, doc }, i) => {
      const lastMessage = { text: doc.text, senderRole: doc.sender.role, createdAt: doc.createdAt };
      const set: Record<string, unknown> = {
        lastSeq: doc.seq,
        messageCount: doc.seq,
        lastMessage,
        lastMessageAt: doc.createdAt,
        updatedAt: doc.createdAt,
      };
      const update: mongo.UpdateFilter<ConversationDoc> = { $set: set };
      if (reopening[i]) {
        set['status'] = 'open';
        update.$unset = { resolvedAt: '', closedAt: '', snoozedUntil: '' };
        const mark = marks[i];
        if (mark) update.$push = { outbox: mark };
      }
      return {
        updateOne: {
          filter: {
            _id: conversation._id,
            lastSeq: { $lt: doc.seq },
            status: conversation.status,
            assigneeId: { $exists: conversation.assigneeId !== undefined },
          },
          update,
        },
      };
    });
    const result = await rawCollection(this.conversations).bulkWrite(operations, { ordered: false });

    if (result.matchedCount === operations.length) {
      return entries.map(({ conversation, doc }, i) => {
        const updated: ConversationDoc = {
          ...conversation,
          lastSeq: doc.seq,
          messageCount: doc.seq,
          updatedAt: doc.createdAt,
          lastMessageAt: doc.createdAt,
          lastMessage: { text: doc.text, senderRole: doc.sender.role, createdAt: doc.createdAt },
        };
        if (reopening[i]) {
          updated.status = 'open';
          delete updated.resolvedAt;
          delete updated.closedAt;
          delete updated.snoozedUntil;
          announceReopen(updated, i);
        }
        this.cache.set(updated._id, updated);
        return updated;
      });
    }

    const readBack = new Map(
      (
        await this.conversations
          .find({ _id: { $in: entries.map((e) => e.conversation._id) } })
          .lean<ConversationDoc[]>()
          .exec()
      ).map((c) => [c._id, c]),
    );
    const results: (ConversationDoc | undefined)[] = [];
    const again: { index: number; entry: Entry }[] = [];
    entries.forEach((entry, i) => {
      const fresh = readBack.get(entry.conversation._id);
      if (!fresh) {
        this.cache.delete(entry.conversation._id);
        results[i] = undefined;
      } else if (fresh.lastSeq >= entry.doc.seq) {
        // Recorded (by this statement or by another node, further): its state stands. A reopen is
        // announced anyway (harmless if someone else announced it too).
        if (reopening[i] && statusOf(fresh.status) === 'open') announceReopen(fresh, i);
        this.cache.set(fresh._id, fresh);
        results[i] = fresh;
      } else {
        again.push({ index: i, entry: { ...entry, conversation: fresh } });
      }
    });
    if (again.length > 0) {
      if (attempt >= MAX_RECORD_ATTEMPTS)
        throw new AppError('UNAVAILABLE', 'The conversation is too busy right now; try again');
      // Recorded again from what was read: whether it reopens, and from what, is decided anew.
      const retried = await this.recordStatements(
        again.map((a) => a.entry),
        announced,
        attempt + 1,
      );
      again.forEach((a, j) => (results[a.index] = retried[j]));
    }
    return results;
  }

  private async findByClientId(
    conversationId: string,
    senderId: string,
    clientMessageId: string,
  ): Promise<MessageDoc | null> {
    return this.messages.findOne({ conversationId, 'sender.id': senderId, clientMessageId }).lean<MessageDoc>().exec();
  }

  /** Messages stored after the recorded end `after` and before `before`, in seq order. */
  private async unrecordedBetween(conversationId: string, after: number, before: number): Promise<MessageDoc[]> {
    return this.messages
      .find({ conversationId, seq: { $gt: after, $lt: before } })
      .sort({ seq: 1 })
      .lean<MessageDoc[]>()
      .exec();
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
