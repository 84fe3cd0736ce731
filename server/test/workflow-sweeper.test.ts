import { startEmbeddedMongo, type EmbeddedMongo } from '@parley/embedded-mongo';
import mongoose, { type Connection } from 'mongoose';
import type { AgentActor } from '../src/conversations/actor';
import {
  registerConversationModel,
  type ConversationDoc,
  type ConversationModel,
} from '../src/conversations/conversation-model';
import { ConversationWorkflow } from '../src/conversations/conversation-workflow';
import { STALE_NOTE_MS, StatusNotes } from '../src/conversations/status-notes';
import { WorkflowSweeper, type SweepClock } from '../src/conversations/workflow-sweeper';
import { AppError } from '../src/errors';
import { EventBus } from '../src/infra/event-bus';
import { newId } from '../src/infra/ids';
import { createLogger } from '../src/infra/logger';
import { registerMessageModel, type MessageDoc, type MessageModel } from '../src/messages/message-model';
import { MessageService } from '../src/messages/message-service';

/** A clock that moves only when the test says; timers fire in order as it passes them. */
class ManualClock implements SweepClock {
  private seq = 0;
  private readonly timers = new Map<number, { at: number; run: () => void }>();
  constructor(public time: number) {}
  now = (): number => this.time;
  setTimeout(run: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + ms, run });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** When the next timer fires, if one is set. */
  next(): number | undefined {
    return Math.min(...[...this.timers.values()].map((t) => t.at));
  }
  /** Moves to `at`, firing every timer due on the way. */
  advanceTo(at: number): void {
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= at).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].run();
    }
    this.time = at;
  }
}

const HOUR = 3_600_000;

/**
 * The workflow's durable timers against a real embedded MongoDB, on clocks moved by hand: snoozes
 * end when due and not before, on whichever "node" (sweeper) is alive, once; notes a dead node did
 * not write are written by another, once.
 */
describe('WorkflowSweeper', () => {
  let mongo: EmbeddedMongo;
  let connection: Connection;
  let conversations: ConversationModel;
  let messages: MessageModel;
  const logger = createLogger('silent');
  const agent: AgentActor = { role: 'agent', projectId: 'p1', agentId: 'a1', name: 'Ana' };

  beforeAll(async () => {
    mongo = await startEmbeddedMongo();
    connection = mongoose.createConnection(`${mongo.uri}/sweeper_test?directConnection=true`, { autoIndex: true });
    conversations = registerConversationModel(connection);
    messages = registerMessageModel(connection);
    await connection.asPromise();
    await Promise.all([conversations.init(), messages.init()]);
  });
  afterAll(async () => {
    await connection.close();
    await mongo.stop();
  });

  /** One node's workflow machinery, on its own event bus, sharing the database. */
  function node(clock: ManualClock, intervalMs = 5 * 60_000) {
    const bus = new EventBus();
    const service = new MessageService(messages, conversations, bus, 4000);
    const workflow = new ConversationWorkflow(conversations, bus, clock.now);
    const notes = new StatusNotes(conversations, service, bus, logger);
    const sweeper = new WorkflowSweeper(conversations, workflow, notes, bus, logger, intervalMs, clock);
    const updates: { id: string; status: string; by: string }[] = [];
    bus.subscribe('conversation.updated', ({ conversation, change }) =>
      updates.push({ id: conversation.id, status: conversation.status, by: change.by.type }),
    );
    return { bus, workflow, notes, sweeper, updates };
  }

  async function conversation(): Promise<ConversationDoc> {
    const now = new Date();
    const doc: ConversationDoc = {
      _id: newId(),
      projectId: 'p1',
      leadId: 'l1',
      userId: `u-${newId()}`,
      status: 'open',
      participants: [],
      messageCount: 0,
      lastSeq: 0,
      attributes: {},
      createdAt: now,
      updatedAt: now,
    };
    await conversations.collection.insertOne(doc as never);
    return doc;
  }

  const history = async (conversationId: string) =>
    (await messages.find({ conversationId }).sort({ seq: 1 }).lean<MessageDoc[]>().exec()).map((m) => [
      m.sender.role,
      m.text,
    ]);
  const statusOf = async (id: string) => (await conversations.findById(id).lean<ConversationDoc>().exec())?.status;
  /** Waits for the notes written in the background after a change (no timer: a poll of the database). */
  async function historyOf(id: string, length: number) {
    for (let i = 0; i < 200; i++) {
      const found = await history(id);
      if (found.length >= length) return found;
      await new Promise((r) => setImmediate(r));
    }
    return history(id);
  }

  it('wakes a snooze when it is due, not before, and writes the note', async () => {
    const clock = new ManualClock(Date.parse('2030-01-01T08:00:00Z'));
    const a = node(clock, 2 * HOUR);
    a.sweeper.start();
    await a.sweeper.sweepNow();
    const c = await conversation();
    const until = new Date(clock.time + HOUR).toISOString();
    const snoozed = await a.workflow.snooze(agent, c._id, until);
    expect(snoozed).toMatchObject({ status: 'snoozed', snoozedUntil: until });
    // The node that snoozed it plans to be awake right then (not at its next periodic sweep).
    expect(clock.next()).toBe(Date.parse(until));

    clock.advanceTo(Date.parse(until) - 1);
    await a.sweeper.sweepNow();
    expect(await statusOf(c._id)).toBe('snoozed');

    clock.advanceTo(Date.parse(until));
    await a.sweeper.sweepNow();
    expect(await statusOf(c._id)).toBe('open');
    expect(a.updates.filter((u) => u.id === c._id)).toEqual([
      { id: c._id, status: 'snoozed', by: 'agent' },
      { id: c._id, status: 'open', by: 'system' },
    ]);
    expect(await historyOf(c._id, 2)).toEqual([
      ['system', `Ana snoozed the conversation until ${until}`],
      ['system', 'The snooze ended: the conversation is open again'],
    ]);
    expect((await conversations.findById(c._id).lean<ConversationDoc>().exec())?.pendingNotes).toEqual([]);
    await a.sweeper.stop();
  });

  it('wakes it on another node once the node that snoozed it is gone, and only once with two nodes left', async () => {
    const start = Date.parse('2030-02-01T08:00:00Z');
    const clockA = new ManualClock(start);
    const clockB = new ManualClock(start);
    const clockC = new ManualClock(start);
    const [a, b, c] = [node(clockA, 60_000), node(clockB, 60_000), node(clockC, 60_000)];
    const conv = await conversation();
    const until = start + 10 * 60_000;
    await a.workflow.snooze(agent, conv._id, new Date(until).toISOString());
    // Node A dies without a sweep; B and C, sweeping every minute, learn of the snooze from the
    // database and plan to wake it on time.
    for (const n of [b, c]) {
      n.sweeper.start();
      await n.sweeper.sweepNow();
    }
    expect([clockB.next(), clockC.next()]).toEqual([start + 60_000, start + 60_000]);
    for (const [clock, n] of [
      [clockB, b],
      [clockC, c],
    ] as const) {
      clock.advanceTo(start + 9.5 * 60_000);
      await n.sweeper.sweepNow();
      expect(clock.next()).toBe(until);
    }
    clockB.advanceTo(until);
    clockC.advanceTo(until);
    await Promise.all([b.sweeper.sweepNow(), c.sweeper.sweepNow()]);
    expect(await statusOf(conv._id)).toBe('open');
    const wakes = [...b.updates, ...c.updates].filter((u) => u.id === conv._id && u.by === 'system');
    expect(wakes).toHaveLength(1);
    expect((await historyOf(conv._id, 2)).filter(([role]) => role === 'system')).toHaveLength(2);
    await Promise.all([b.sweeper.stop(), c.sweeper.stop()]);
  });

  it('writes the note a dead node left, once, after a grace period', async () => {
    const clock = new ManualClock(Date.parse('2030-03-01T08:00:00Z'));
    const c = await conversation();
    // A resolve whose node died right after its write: status changed, note pending, no message.
    const note = { id: newId(), text: 'Ana resolved the conversation', at: new Date(clock.time) };
    await conversations.updateOne({ _id: c._id }, { $set: { status: 'resolved' }, $push: { pendingNotes: note } });
    const [b, d] = [node(clock), node(clock)];
    expect(await b.notes.finishStale(clock.time + STALE_NOTE_MS - 1)).toBe(0);
    expect(await history(c._id)).toEqual([]);
    // Two nodes find it at once: the note's id is the message's clientMessageId, so one message.
    await Promise.all([
      b.notes.finishStale(clock.time + STALE_NOTE_MS),
      d.notes.finishStale(clock.time + STALE_NOTE_MS),
    ]);
    expect(await history(c._id)).toEqual([['system', 'Ana resolved the conversation']]);
    expect((await conversations.findById(c._id).lean<ConversationDoc>().exec())?.pendingNotes).toEqual([]);
  });

  it('refuses snoozes into the past or too far ahead, changing nothing', async () => {
    const clock = new ManualClock(Date.parse('2030-04-01T08:00:00Z'));
    const a = node(clock);
    const c = await conversation();
    for (const until of [
      new Date(clock.time).toISOString(),
      new Date(clock.time - 1).toISOString(),
      '2032-01-01T00:00:00Z',
    ]) {
      const error = await a.workflow.snooze(agent, c._id, until).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('BAD_REQUEST');
      expect((error as AppError).details?.fields?.[0]?.field).toBe('until');
    }
    expect(await conversations.findById(c._id).lean<ConversationDoc>().exec()).toMatchObject({ status: 'open' });
    expect(a.updates).toEqual([]);
  });

  it('moves between statuses once each, a repeat changing and announcing nothing', async () => {
    const clock = new ManualClock(Date.parse('2030-05-01T08:00:00Z'));
    const a = node(clock);
    const c = await conversation();
    await a.workflow.pend(agent, c._id);
    await a.workflow.pend(agent, c._id);
    await a.workflow.resolve(agent, c._id);
    const again = await a.workflow.resolve(agent, c._id);
    expect(again.status).toBe('resolved');
    const until = new Date(clock.time + HOUR).toISOString();
    await a.workflow.snooze(agent, c._id, until);
    await a.workflow.snooze(agent, c._id, until);
    await a.workflow.reopen(agent, c._id);
    expect(a.updates.map((u) => u.status)).toEqual(['pending', 'resolved', 'snoozed', 'open']);
    expect((await historyOf(c._id, 4)).map(([, text]) => text)).toEqual([
      'Ana marked the conversation as pending',
      'Ana resolved the conversation',
      `Ana snoozed the conversation until ${until}`,
      'Ana reopened the conversation',
    ]);
    const missing = await a.workflow.resolve(agent, 'no-such-conversation').catch((e: unknown) => e);
    expect((missing as AppError).code).toBe('NOT_FOUND');
  });
});
