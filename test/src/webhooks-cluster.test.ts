import { MongoClient } from 'mongodb';
import type { MessageSendResult } from '@parley/protocol';
import { webhookPayloadSchema } from '@parley/protocol/schemas';
import { createAgent, createProject, type TestAgent } from './support/fixtures';
import { startSharedMongo, type SharedMongo } from './support/mongo-process';
import { startParley, type ParleyProcess } from './support/parley-process';
import { command, connectAgent, ok, type VisitorClientSocket } from './support/sockets';
import { startMongoWireProxy } from './support/mongo-wire-proxy';
import { waitFor } from './support/wait';
import { eventOf, ReceiverProcess, verifyWithStandardWebhooks, type ReceivedRequest } from './support/webhook-receiver';
import { createWebhook, deliveriesOf, settledDeliveries, visitorWithConversation } from './support/webhooks';

type Received = { webhookId: string; messageId: string; text: string; seq: number; conversationId: string };

function received(requests: ReceivedRequest[]): Received[] {
  return requests.map((r) => {
    const { message } = eventOf(r).data as {
      message: { id: string; text: string; seq: number; conversationId: string };
    };
    return {
      webhookId: r.headers['webhook-id'] as string,
      messageId: message.id,
      text: message.text,
      seq: message.seq,
      conversationId: message.conversationId,
    };
  });
}

/**
 * Several gateway processes sharing one database, each running delivery workers: a node killed
 * mid-delivery, crashes between a change and its outbox record, a thousand events to two webhooks.
 */
describe('webhooks across nodes', () => {
  let mongo: SharedMongo;
  let db: MongoClient;
  const nodes: ParleyProcess[] = [];
  const receivers: ReceiverProcess[] = [];
  let projectId: string;
  let owner: TestAgent;

  const startNode = async () => {
    const node = await startParley({
      env: {
        MONGODB_URI: mongo.uri,
        WEBHOOK_RETRY_DELAYS: '1s,1s,1s,1s,1s',
        WEBHOOK_TIMEOUT: '5s',
      },
    });
    nodes.push(node);
    return node;
  };
  const receiver = async (plan = '') => {
    const r = await ReceiverProcess.start(plan);
    receivers.push(r);
    return r;
  };
  const deliveries = () => db.db().collection<{ _id: string; lease?: string; eventId: string }>('webhook_deliveries');

  beforeAll(async () => {
    mongo = await startSharedMongo();
    db = await MongoClient.connect(mongo.uri, { directConnection: true });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.stop()));
    await Promise.all(nodes.map((n) => n.stop().then(() => n.cleanup())));
    await db?.close();
    await mongo?.stop();
  }, 60_000);

  it('delivers from the other node when the one sending is SIGKILLed mid-delivery, with the same webhook-id', async () => {
    const [a, b] = [await startNode(), await startNode()] as [ParleyProcess, ParleyProcess];
    projectId = (await createProject(a.url)).project.id;
    owner = await createAgent(a.url, projectId, 'owner');
    const hook = await receiver('hang');
    const { webhook, secret } = await createWebhook(a.url, projectId, owner.token, hook.url, ['message.created']);
    const { socket, conversationId } = await visitorWithConversation(a.url, projectId);
    await ok(socket, 'message:send', { conversationId, clientMessageId: 'kill-1', text: 'survives a crash' });
    socket.close();

    const [first] = await hook.waitForRequests(1);
    // Whichever node holds the claim is the one sending: its pid starts the lease.
    const claimed = await deliveries().findOne({ eventId: first?.headers['webhook-id'] });
    const pid = Number(claimed?.lease?.split(':')[0]);
    const sender = [a, b].find((n) => n.process.pid === pid);
    expect(sender).toBeDefined();
    await sender?.kill();
    const survivor = sender === a ? b : a;

    const [, second] = await hook.waitForRequests(2, 90_000);
    expect(second?.headers['webhook-id']).toBe(first?.headers['webhook-id']);
    expect(second?.body).toBe(first?.body);
    expect(() => verifyWithStandardWebhooks(secret, second as ReceivedRequest)).not.toThrow();
    await settledDeliveries(survivor.url, projectId, owner.token, webhook.id);
    const [delivery] = (await deliveriesOf(survivor.url, projectId, owner.token, webhook.id)).items;
    // The killed node's attempt was never recorded: one attempt, by the survivor.
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 200 });
    await survivor.stop();
  }, 120_000);

  it('records what a crash left between a change and its outbox record (marks on the changed documents)', async () => {
    const node = await startNode();
    projectId = (await createProject(node.url)).project.id;
    owner = await createAgent(node.url, projectId, 'owner');
    const hook = await receiver();
    const { webhook } = await createWebhook(node.url, projectId, owner.token, hook.url, [
      'message.created',
      'lead.updated',
      'conversation.updated',
    ]);
    const { socket, conversationId, userId } = await visitorWithConversation(node.url, projectId);
    socket.close();
    // What a writer that died after its insert leaves: a message stored with its mark, unrecorded
    // on its conversation and absent from the outbox; a lead changed with its mark, no record.
    const minuteAgo = new Date(Date.now() - 60_000);
    const messageId = 'crashed-message-000000001';
    await db
      .db()
      .collection('messages')
      .insertOne({
        _id: messageId as never,
        conversationId,
        projectId,
        seq: 1,
        clientMessageId: 'crashed-1',
        sender: { id: userId, role: 'visitor' },
        text: 'written just before a crash',
        createdAt: minuteAgo,
        outbox: [{ id: 'mark-msg-1', type: 'message.created', at: minuteAgo }],
      });
    await db
      .db()
      .collection('leads')
      .updateOne(
        { projectId, userId },
        {
          $set: { fullname: 'Grace Hopper' },
          $inc: { rev: 1 },
          $push: {
            outbox: { id: 'mark-lead-1', type: 'lead.updated', at: minuteAgo, extra: { changes: ['fullname'] } },
          } as never,
        },
      );
    // A conversation resolved by an agent whose node died before the event was recorded: the mark
    // keeps the change (who, the status before), which the document alone does not say.
    const change = { by: { type: 'agent', id: owner.id, name: 'Ada' }, previousStatus: 'open' };
    await db
      .db()
      .collection('conversations')
      .updateOne(
        { _id: conversationId as never },
        {
          $set: { status: 'resolved', resolvedAt: minuteAgo, updatedAt: minuteAgo },
          $push: {
            outbox: { id: 'mark-conv-1', type: 'conversation.updated', at: minuteAgo, extra: { change } },
          } as never,
        },
      );
    // The sweeper runs every 10 s and takes marks older than 30 s.
    const requests = await hook.waitForRequests(3, 90_000);
    const events = requests.map((request) => webhookPayloadSchema.parse(eventOf(request)));
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'message.created',
          data: expect.objectContaining({ message: expect.objectContaining({ id: messageId }) }),
        }),
        expect.objectContaining({
          type: 'lead.updated',
          data: expect.objectContaining({
            changes: ['fullname'],
            lead: expect.objectContaining({ fullname: 'Grace Hopper' }),
          }),
        }),
        expect.objectContaining({
          type: 'conversation.updated',
          data: {
            conversation: expect.objectContaining({ id: conversationId, status: 'resolved' }),
            change,
            projectId,
          },
        }),
      ]),
    );
    await waitFor(
      'the marks to be cleared',
      async () => {
        const marked = await db
          .db()
          .collection('messages')
          .countDocuments({ _id: messageId as never, outbox: { $exists: true } });
        const lead = await db
          .db()
          .collection('leads')
          .countDocuments({ projectId, userId, outbox: { $exists: true } });
        const conversation = await db
          .db()
          .collection('conversations')
          .countDocuments({ _id: conversationId as never, outbox: { $exists: true } });
        return marked === 0 && lead === 0 && conversation === 0;
      },
      { timeoutMs: 60_000 },
    );
    await settledDeliveries(node.url, projectId, owner.token, webhook.id);
    await client_delete(node.url, webhook.id);
    await node.stop();
  }, 180_000);

  it('rebuilds a status change a crash left unrecorded as it would have been sent, previousStatus included', async () => {
    // The node's database connection goes through a proxy that holds back the reply to the
    // status change: the change (and its mark) is stored, the node never learns it, then dies.
    const target = new URL(mongo.uri);
    const wire = await startMongoWireProxy(Number(target.port || 27017), target.hostname);
    const crashing = await startParley({
      env: {
        MONGODB_URI: `${wire.uri}${target.pathname}${target.search}`,
        WEBHOOK_RETRY_DELAYS: '1s,1s,1s',
        WEBHOOK_TIMEOUT: '5s',
      },
    });
    nodes.push(crashing);
    try {
      projectId = (await createProject(crashing.url)).project.id;
      owner = await createAgent(crashing.url, projectId, 'owner');
      const hook = await receiver();
      const { webhook } = await createWebhook(crashing.url, projectId, owner.token, hook.url, ['conversation.updated']);
      const { socket, conversationId } = await visitorWithConversation(crashing.url, projectId, 'hello');
      socket.close();
      const agent = await connectAgent(crashing.url, owner.token);
      await ok(agent, 'conversation:join', { conversationId });
      const before = (await hook.waitForRequests(1)).length;

      const change = wire.holdReplyTo(
        (m) => m.includes('findAndModify') && m.includes('conversations') && m.includes(conversationId),
      );
      void command(agent, 'conversation:resolve', { conversationId }).catch(() => undefined);
      await change.held;
      await crashing.kill();
      change.release();
      agent.close();

      // Another node's sweeper records it from the document and the mark (after the 30 s grace).
      const survivor = await startNode();
      const rebuilt = (await hook.waitForRequests(before + 1, 90_000))[before];
      const event = webhookPayloadSchema.parse(eventOf(rebuilt as ReceivedRequest));
      expect(event.type).toBe('conversation.updated');
      expect(event.data).toEqual({
        conversation: expect.objectContaining({ id: conversationId, status: 'resolved' }),
        change: { by: { type: 'agent', id: owner.id, name: `Agent ${owner.email}` }, previousStatus: 'open' },
        projectId,
      });
      await settledDeliveries(survivor.url, projectId, owner.token, webhook.id);
      await survivor.stop();
    } finally {
      await wire.close();
    }
  }, 180_000);

  async function client_delete(url: string, webhookId: string) {
    await fetch(`${url}/v1/projects/${projectId}/webhooks/${webhookId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${owner.token}` },
    });
  }

  it('delivers 1,000 events to two webhooks; duplicates only after a crash, and with the same webhook-id', async () => {
    const [a, b] = [await startNode(), await startNode()] as [ParleyProcess, ParleyProcess];
    projectId = (await createProject(a.url)).project.id;
    owner = await createAgent(a.url, projectId, 'owner');
    const [one, two] = [await receiver(), await receiver()];
    const hooks = [
      await createWebhook(a.url, projectId, owner.token, one.url, ['message.created']),
      await createWebhook(a.url, projectId, owner.token, two.url, ['message.created']),
    ];
    const send = async (
      visitors: { socket: VisitorClientSocket; conversationId: string }[],
      phase: string,
      count: number,
    ) => {
      const sent: MessageSendResult[] = [];
      await Promise.all(
        visitors.map(async ({ socket, conversationId }, v) => {
          for (let i = 0; i < count / visitors.length; i++)
            sent.push(
              await ok<MessageSendResult>(socket, 'message:send', {
                conversationId,
                clientMessageId: `${phase}-${v}-${i}`,
                text: `${phase}-${v}-${i}`,
              }),
            );
        }),
      );
      return sent;
    };

    // Phase 1: 500 events, no crash, visitors on both nodes: no duplicate at all.
    const onBoth = await Promise.all(
      Array.from({ length: 10 }, (_, i) => visitorWithConversation(i % 2 ? a.url : b.url, projectId)),
    );
    await send(onBoth, 'calm', 500);
    for (const r of [one, two]) await r.waitForRequests(500, 60_000);
    for (const hook of hooks) await settledDeliveries(b.url, projectId, owner.token, hook.webhook.id, 60_000);
    for (const r of [one, two]) {
      const got = received(r.requests);
      expect(got).toHaveLength(500);
      expect(new Set(got.map((g) => g.webhookId)).size).toBe(500);
    }
    for (const v of onBoth) v.socket.close();

    // Phase 2: 500 more, sent through B, while A (also delivering) is killed.
    const onB = await Promise.all(Array.from({ length: 10 }, () => visitorWithConversation(b.url, projectId)));
    const sending = send(onB, 'crash', 500);
    await waitFor('deliveries under way', () => one.requests.length >= 600 && two.requests.length >= 600, {
      timeoutMs: 60_000,
    });
    await a.kill();
    await sending;
    for (const v of onB) v.socket.close();
    for (const r of [one, two])
      await waitFor('every event', () => new Set(received(r.requests).map((g) => g.messageId)).size === 1000, {
        timeoutMs: 90_000,
        describe: () => `${new Set(received(r.requests).map((g) => g.messageId)).size} distinct`,
      });
    for (const hook of hooks) await settledDeliveries(b.url, projectId, owner.token, hook.webhook.id, 60_000);

    const idOf = new Map<string, string>();
    for (const r of [one, two]) {
      const got = received(r.requests);
      // One webhook-id per event, whichever node sent it and however often: the same for both webhooks.
      for (const g of got) {
        expect(idOf.get(g.messageId) ?? g.webhookId).toBe(g.webhookId);
        idOf.set(g.messageId, g.webhookId);
      }
      expect(new Set(got.map((g) => g.webhookId)).size).toBe(1000);
      const duplicates = got.length - 1000;
      expect(got.filter((g) => g.text.startsWith('calm-'))).toHaveLength(500);
      expect(duplicates).toBeGreaterThanOrEqual(0);
      // Per conversation, in seq order (counting each event's first arrival).
      const firsts = got.filter((g, i) => got.findIndex((h) => h.messageId === g.messageId) === i);
      const byConversation = new Map<string, number[]>();
      for (const g of firsts)
        byConversation.set(g.conversationId, [...(byConversation.get(g.conversationId) ?? []), g.seq]);
      for (const seqs of byConversation.values()) expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    }
  }, 300_000);
});
