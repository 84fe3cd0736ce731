import { startEmbeddedMongo, type EmbeddedMongo } from '@parley/embedded-mongo';
import mongoose, { type Connection } from 'mongoose';
import type { Actor } from '../src/conversations/actor';
import {
  registerConversationModel,
  type ConversationDoc,
  type ConversationModel,
} from '../src/conversations/conversation-model';
import { AppError } from '../src/errors';
import { EventBus } from '../src/infra/event-bus';
import { newId } from '../src/infra/ids';
import {
  ConversationResolvedError,
  MessageWriter,
  type PendingSend,
  type SendResult,
} from '../src/messages/message-writer';
import { registerMessageModel, type MessageDoc, type MessageModel } from '../src/messages/message-model';

/**
 * The message writer's steps against a real mongoose connection to the embedded MongoDB (the
 * unique indexes it relies on are the database's, not a fake's): one batch, the ordered insert
 * stopping at a taken seq, retries by clientMessageId, seqs numbered on from a conversation's end.
 */
describe('MessageWriter', () => {
  let mongo: EmbeddedMongo;
  let connection: Connection;
  let messages: MessageModel;
  let conversations: ConversationModel;
  /** Database commands the writer sent, by name, since the last reset. */
  let commands: string[] = [];

  beforeAll(async () => {
    mongo = await startEmbeddedMongo();
    connection = mongoose.createConnection(`${mongo.uri}/writer_test?directConnection=true`, {
      autoIndex: true,
      monitorCommands: true,
    });
    connection.on('commandStarted', (event: { commandName: string }) => commands.push(event.commandName));
    messages = registerMessageModel(connection);
    conversations = registerConversationModel(connection);
    await connection.asPromise();
    await Promise.all([messages.init(), conversations.init()]);
  });
  afterAll(async () => {
    await connection.close();
    await mongo.stop();
  });

  const visitor = (userId: string): Actor => ({ role: 'visitor', projectId: 'p1', userId, visitorKind: 'anonymous' });
  const agent: Actor = { role: 'agent', projectId: 'p1', agentId: 'a1', name: 'Ann' };

  async function conversation(userId: string, lastSeq = 0): Promise<ConversationDoc> {
    const now = new Date();
    const doc: ConversationDoc = {
      _id: newId(),
      projectId: 'p1',
      leadId: `lead-${userId}`,
      userId,
      status: 'open',
      participants: [],
      messageCount: lastSeq,
      lastSeq,
      attributes: {},
      createdAt: now,
      updatedAt: now,
    };
    await conversations.collection.insertOne(doc as never);
    return doc;
  }

  /** A send as the service queues it, with its outcome kept for the test. */
  function send(actor: Actor, conversationId: string, clientMessageId: string, text = clientMessageId) {
    const outcome: { result?: SendResult; error?: unknown } = {};
    const pending: PendingSend = {
      key: conversationId,
      actor,
      input: { conversationId, clientMessageId, text },
      resolve: (result) => (outcome.result ??= result),
      reject: (error) => {
        if (!outcome.result) outcome.error ??= error;
      },
    };
    return { pending, outcome };
  }

  function setup() {
    const bus = new EventBus();
    const published: { conversationId: string; seq: number; clientMessageId: string }[] = [];
    bus.subscribe('message.created', ({ message }) =>
      published.push({
        conversationId: message.conversationId,
        seq: message.seq,
        clientMessageId: message.clientMessageId,
      }),
    );
    const writer = new MessageWriter(messages, conversations, bus);
    return { writer, published, bus };
  }

  const stored = async (conversationId: string) =>
    (await messages.find({ conversationId }).sort({ seq: 1 }).lean<MessageDoc[]>().exec()).map((m) => ({
      seq: m.seq,
      clientMessageId: m.clientMessageId,
    }));

  it('writes a batch of several conversations with one insert and one conversation update, numbering each from its end', async () => {
    const { writer, published } = setup();
    const a = await conversation('u-a');
    const b = await conversation('u-b', 5);
    const sends = [
      send(visitor('u-a'), a._id, 'a1'),
      send(visitor('u-b'), b._id, 'b1'),
      send(agent, a._id, 'a2'),
      send(visitor('u-a'), a._id, 'a3'),
    ];
    commands = [];
    await writer.writeBatch(sends.map((s) => s.pending));

    // One read of the conversations (not cached yet), one insert, one bulk update: no per-send round trip.
    expect(commands.filter((c) => c === 'insert')).toHaveLength(1);
    expect(commands.filter((c) => c === 'update')).toHaveLength(1);
    expect(sends.map((s) => [s.outcome.result?.message.seq, s.outcome.result?.created])).toEqual([
      [1, true],
      [6, true],
      [2, true],
      [3, true],
    ]);
    expect(await stored(a._id)).toEqual([
      { seq: 1, clientMessageId: 'a1' },
      { seq: 2, clientMessageId: 'a2' },
      { seq: 3, clientMessageId: 'a3' },
    ]);
    const recordedA = await conversations.findById(a._id).lean<ConversationDoc>().exec();
    expect(recordedA).toMatchObject({
      lastSeq: 3,
      messageCount: 3,
      lastMessage: { text: 'a3', senderRole: 'visitor' },
    });
    expect((await conversations.findById(b._id).lean<ConversationDoc>().exec())?.lastSeq).toBe(6);
    // Announced per conversation in seq order.
    expect(published.filter((p) => p.conversationId === a._id).map((p) => p.seq)).toEqual([1, 2, 3]);

    // The next batch numbers on from where this one ended, from the cache (no read of the conversation).
    commands = [];
    const next = send(visitor('u-a'), a._id, 'a4');
    await writer.writeBatch([next.pending]);
    expect(next.outcome.result?.message.seq).toBe(4);
    expect(commands).not.toContain('find');
  });

  it('returns the stored message for a retried clientMessageId, in a later batch or twice in one, storing it once', async () => {
    const { writer, published } = setup();
    const c = await conversation('u-r');
    const first = send(visitor('u-r'), c._id, 'k1', 'hello');
    await writer.writeBatch([first.pending]);
    expect(first.outcome.result?.created).toBe(true);

    // Another writer (a node that never saw the first attempt) gets the retry: the unique index decides.
    const other = setup();
    const retry = send(visitor('u-r'), c._id, 'k1', 'hello');
    const fresh = send(visitor('u-r'), c._id, 'k2');
    await other.writer.writeBatch([retry.pending, fresh.pending]);
    expect(retry.outcome.result?.created).toBe(false);
    expect(retry.outcome.result?.message.id).toBe(first.outcome.result?.message.id);
    expect(retry.outcome.result?.message.seq).toBe(1);
    expect(fresh.outcome.result?.message.seq).toBe(2);

    // Twins in one batch (of the writer whose cache is current): one message, the second told it was there already.
    const twinA = send(visitor('u-r'), c._id, 'k3');
    const twinB = send(visitor('u-r'), c._id, 'k3');
    await other.writer.writeBatch([twinA.pending, twinB.pending]);
    expect([twinA.outcome.result?.created, twinB.outcome.result?.created]).toEqual([true, false]);
    expect(twinB.outcome.result?.message.id).toBe(twinA.outcome.result?.message.id);

    expect(await stored(c._id)).toEqual([
      { seq: 1, clientMessageId: 'k1' },
      { seq: 2, clientMessageId: 'k2' },
      { seq: 3, clientMessageId: 'k3' },
    ]);
    expect(published.filter((p) => p.clientMessageId === 'k1')).toHaveLength(1);
    expect((await conversations.findById(c._id).lean<ConversationDoc>().exec())?.lastSeq).toBe(3);
  });

  it('stops the ordered insert at a seq another node took, keeps what it stored, and numbers the rest after it', async () => {
    const { writer, published } = setup();
    const a = await conversation('u-x');
    const b = await conversation('u-y');
    // The writer caches conversation a as ending at 1.
    const warm = send(visitor('u-x'), a._id, 'x0');
    await writer.writeBatch([warm.pending]);
    // Another node stores seq 3 and has not recorded it on the conversation yet.
    await messages.collection.insertOne({
      _id: newId(),
      conversationId: a._id,
      projectId: 'p1',
      seq: 3,
      clientMessageId: 'elsewhere',
      sender: { id: 'a2', role: 'agent', name: 'Bo' },
      text: 'from another node',
      createdAt: new Date(),
    } as never);

    const sends = [
      send(visitor('u-x'), a._id, 'x1'),
      send(visitor('u-x'), a._id, 'x2'),
      send(visitor('u-x'), a._id, 'x3'),
      send(visitor('u-y'), b._id, 'y1'),
    ];
    await writer.writeBatch(sends.map((s) => s.pending));

    // x1 kept seq 2 (stored before the failure: never taken back); x2 failed on seq 3 and, with x3,
    // went one at a time after the other node's message; b's send behind the failure went again.
    expect(sends.map((s) => s.outcome.result?.message.seq)).toEqual([2, 4, 5, 1]);
    expect(sends.every((s) => s.outcome.error === undefined)).toBe(true);
    expect(await stored(a._id)).toEqual([
      { seq: 1, clientMessageId: 'x0' },
      { seq: 2, clientMessageId: 'x1' },
      { seq: 3, clientMessageId: 'elsewhere' },
      { seq: 4, clientMessageId: 'x2' },
      { seq: 5, clientMessageId: 'x3' },
    ]);
    const x1 = await messages.findOne({ clientMessageId: 'x1' }).lean<MessageDoc>().exec();
    expect(x1?._id).toBe(sends[0]?.outcome.result?.message.id);
    expect(await stored(b._id)).toEqual([{ seq: 1, clientMessageId: 'y1' }]);
    expect((await conversations.findById(a._id).lean<ConversationDoc>().exec())?.lastSeq).toBe(5);
    // The other node's message was announced with the message recorded past it.
    expect(published.filter((p) => p.conversationId === a._id).map((p) => p.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it("refuses a send to a conversation the actor may not touch, and writes the batch's others", async () => {
    const { writer } = setup();
    const c = await conversation('u-owner');
    const intruder = send(visitor('u-other'), c._id, 'i1');
    const owner = send(visitor('u-owner'), c._id, 'o1');
    const missing = send(agent, 'no-such-conversation', 'm1');
    await writer.writeBatch([intruder.pending, owner.pending, missing.pending]);
    expect(intruder.outcome.error).toBeInstanceOf(AppError);
    expect((intruder.outcome.error as AppError).code).toBe('NOT_FOUND');
    expect((missing.outcome.error as AppError).code).toBe('NOT_FOUND');
    expect(owner.outcome.result?.message.seq).toBe(1);
    expect(await stored(c._id)).toEqual([{ seq: 1, clientMessageId: 'o1' }]);
  });

  it('opens again a pending, snoozed or resolved conversation a visitor writes to, not one an agent writes to', async () => {
    const { writer, bus } = setup();
    const changes: { id: string; by: string; from?: string }[] = [];
    bus.subscribe('conversation.updated', ({ conversation, change }) =>
      changes.push({
        id: conversation.id,
        by: change.by.type,
        ...(change.previousStatus ? { from: change.previousStatus } : {}),
      }),
    );
    const pending = await conversation('u-p');
    const snoozed = await conversation('u-s');
    const resolved = await conversation('u-r');
    const legacy = await conversation('u-l');
    const byAgent = await conversation('u-a2');
    await conversations.updateOne({ _id: pending._id }, { $set: { status: 'pending' } });
    await conversations.updateOne(
      { _id: snoozed._id },
      { $set: { status: 'snoozed', snoozedUntil: new Date(Date.now() + 60_000) } },
    );
    await conversations.updateMany(
      { _id: { $in: [resolved._id, byAgent._id] } },
      { $set: { status: 'resolved', resolvedAt: new Date() } },
    );
    // Written by a node of the previous version during a deploy: read as resolved.
    await conversations.updateOne({ _id: legacy._id }, { $set: { status: 'closed', closedAt: new Date() } });
    const sends = [
      send(visitor('u-p'), pending._id, 'p1'),
      send(visitor('u-s'), snoozed._id, 's1'),
      send(visitor('u-r'), resolved._id, 'r1'),
      send(visitor('u-l'), legacy._id, 'l1'),
      send(agent, byAgent._id, 'g1'),
    ];
    await writer.writeBatch(sends.map((x) => x.pending));
    for (const { outcome } of sends.slice(0, 4)) expect(outcome.result?.conversation.status).toBe('open');
    for (const c of [pending, snoozed, resolved, legacy]) {
      const after = await conversations.findById(c._id).lean<ConversationDoc>().exec();
      expect(after).toMatchObject({ status: 'open' });
      expect([after?.snoozedUntil, after?.resolvedAt, after?.closedAt]).toEqual([undefined, undefined, undefined]);
    }
    expect((await conversations.findById(byAgent._id).lean<ConversationDoc>().exec())?.status).toBe('resolved');
    expect(changes.sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      [
        { id: pending._id, by: 'visitor', from: 'pending' },
        { id: snoozed._id, by: 'visitor', from: 'snoozed' },
        { id: resolved._id, by: 'visitor', from: 'resolved' },
        { id: legacy._id, by: 'visitor', from: 'resolved' },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    );
  });

  it('refuses a visitor message into a resolved conversation when the project starts a new one, before anything is written, even when its cache says open', async () => {
    const bus = new EventBus();
    const writer = new MessageWriter(messages, conversations, bus, { resolvedReply: async () => 'new' });
    const resolved = await conversation('u-n');
    // The writer knows it open (it wrote to it), then another node resolves it.
    const first = send(agent, resolved._id, 'n0');
    await writer.writeBatch([first.pending]);
    expect(first.outcome.result?.conversation.status).toBe('open');
    await conversations.updateOne({ _id: resolved._id }, { $set: { status: 'resolved', resolvedAt: new Date() } });
    let limited = 0;
    const v = send(visitor('u-n'), resolved._id, 'n1');
    v.pending.beforeWrite = async () => {
      limited++;
    };
    const a = send(agent, resolved._id, 'n2');
    await writer.writeBatch([v.pending, a.pending]);
    expect(v.outcome.error).toBeInstanceOf(ConversationResolvedError);
    expect(limited).toBe(0);
    // An agent's message is a message like any other: it does not reopen, and is not refused.
    expect(a.outcome.result?.message.seq).toBe(2);
    expect(await stored(resolved._id)).toEqual([
      { seq: 1, clientMessageId: 'n0' },
      { seq: 2, clientMessageId: 'n2' },
    ]);
    expect((await conversations.findById(resolved._id).lean<ConversationDoc>().exec())?.status).toBe('resolved');
  });
});
