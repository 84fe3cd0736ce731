import {
  createAgentClient,
  createVisitorClient,
  memoryStorage,
  type AgentClient,
  type AgentClientEvents,
  type VisitorClient,
  type VisitorClientEvents,
} from '@parley/client-sdk';
import type { Conversation } from '@parley/protocol';
import { startChaosProxy, type ChaosProxy } from './support/chaos-proxy';
import { startDatabase, type TestDatabase } from './support/database';
import { createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';
import { startRedis, type RedisProcess } from './support/redis-process';
import { SdkEvents } from './support/sdk-events';
import { startTcpBalancer, type TcpBalancer } from './support/tcp-balancer';
import { waitFor } from './support/wait';

/**
 * The workflow through the SDK, on two nodes behind a balancer: unread counts kept live from
 * pushes and exact after reconnects and a node's death, read markers and receipts, statuses, the
 * continuation of a resolved conversation, canned responses.
 */
describe('SDK: conversation workflow', () => {
  let database: TestDatabase;
  let redis: RedisProcess;
  let nodeA: ParleyProcess;
  let nodeB: ParleyProcess;
  let projectId: string;
  let owner: TestAgent;
  const closers: { close(): unknown }[] = [];

  const startNode = () => startParley({ env: { MONGODB_URI: database.uri, REDIS_URL: redis.url } });

  beforeAll(async () => {
    [database, redis] = await Promise.all([startDatabase(), startRedis()]);
    [nodeA, nodeB] = await Promise.all([startNode(), startNode()]);
    projectId = (await createProject(nodeA.url)).project.id;
    owner = await createAgent(nodeA.url, projectId, 'owner');
  }, 60_000);

  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c.close();
  });

  afterAll(async () => {
    for (const node of [nodeA, nodeB]) {
      await node?.stop();
      node?.cleanup();
    }
    await redis?.stop();
    await database?.stop();
  }, 30_000);

  function visitor(
    url: string,
    storage = memoryStorage(),
  ): { client: VisitorClient; events: SdkEvents<VisitorClientEvents> } {
    const v = createVisitorClient({ url, projectId, storage });
    closers.push(v);
    const events = new SdkEvents<VisitorClientEvents>(
      (e, l) => v.on(e, l),
      ['unread', 'read', 'conversation', 'continued', 'message', 'error'],
    );
    return { client: v, events };
  }

  function agent(url: string, account: TestAgent): { client: AgentClient; events: SdkEvents<AgentClientEvents> } {
    const a = createAgentClient({ url, token: account.token });
    closers.push(a);
    const events = new SdkEvents<AgentClientEvents>(
      (e, l) => a.on(e, l),
      ['unread', 'message.read', 'conversation.updated', 'reload'],
    );
    return { client: a, events };
  }

  /** What the server says this agent's count is, asked apart from the client under test. */
  async function serverCount(account: TestAgent, conversationId: string): Promise<number | undefined> {
    const res = await client(nodeB.url).get<{ conversation: Conversation }>(
      `/v1/projects/${projectId}/conversations/${conversationId}`,
      { token: account.token },
    );
    return res.body.conversation.unreadCount;
  }

  it('keeps an agent’s unread counts exact from pushes, across a cut, a node killed and another console', async () => {
    const account = await createAgent(nodeA.url, projectId);
    const extra = await startNode();
    const balancer: TcpBalancer = await startTcpBalancer([extra.port, nodeB.port]);
    closers.push({ close: () => balancer.close() }, { close: () => extra.kill().then(() => extra.cleanup()) });
    const a = agent(balancer.url, account);
    // A console reloads its lists when told it may have missed pushes (the documented contract).
    a.client.on('reload', () => void a.client.conversations.list().catch(() => undefined));
    await a.client.ready;
    const v = visitor(nodeB.url);
    const conversation = await v.client.startConversation({ text: 'q1' });
    const id = conversation.id;
    const count = () => a.client.conversations.unreadCount(id);
    const exactly = async (n: number) => {
      await waitFor(`${n} unread`, () => count() === n, { describe: () => `the client counts ${count()}` });
      expect(await serverCount(account, id)).toBe(n);
    };

    // A new conversation is counted from its first message on, live.
    await exactly(1);
    await conversation.send('q2');
    await conversation.send('q3');
    await exactly(3);
    // The console lists: the server's word agrees.
    expect((await a.client.conversations.list()).items.find((c) => c.id === id)?.unreadCount).toBe(3);

    // Read up to what the client knows: nothing left; the agent's own messages never count.
    expect(await a.client.conversations.read(id)).toMatchObject({ seq: 3, unreadCount: 0 });
    await a.client.conversations.send(id, 'answer');
    await exactly(0);

    // The connection is cut while the visitor writes: the client comes back counting them.
    balancer.cutAll();
    await conversation.send('q5');
    await conversation.send('q6');
    await exactly(2);

    // Its node is killed; the balancer sends it to the other node. A message while it is away.
    await extra.kill();
    await conversation.send('q7');
    await exactly(3);

    // The same agent in a second console reads there: the first console's count follows.
    const second = agent(nodeA.url, account);
    await second.client.ready;
    expect((await second.client.conversations.get(id)).unreadCount).toBe(3);
    await second.client.conversations.read(id);
    await exactly(0);
    expect(a.events.of('message.read').some((e) => e.reader.id === account.id && e.unreadCount === 0)).toBe(true);
  }, 90_000);

  it('counts the visitor’s unread agent messages, marks what is shown as read, in every tab, with receipts to agents', async () => {
    const storage = memoryStorage();
    const tab1 = visitor(nodeA.url, storage);
    const proxy: ChaosProxy = await startChaosProxy(nodeB.port);
    closers.push({ close: () => proxy.close() });
    const a = agent(nodeB.url, owner);
    await a.client.ready;
    const conversation = await tab1.client.startConversation({ text: 'hello' });
    await conversation.send('are you there?');
    const id = conversation.id;
    const tab2 = visitor(proxy.url, storage);
    const [inTab2] = await tab2.client.conversations();
    expect(inTab2?.id).toBe(id);

    await a.client.conversations.send(id, 'yes');
    await a.client.conversations.send(id, 'how can I help?');
    await waitFor('2 unread in tab 1', () => conversation.unreadCount === 2);
    await waitFor('2 unread in tab 2', () => inTab2?.unreadCount === 2);
    expect(tab1.client.unreadTotal).toBe(2);

    // Tab 1 shows it: read there, and in tab 2 too; the agent gets a receipt.
    await waitFor('the messages held', () => conversation.messages.length === 4);
    await conversation.markRead();
    expect(conversation.unreadCount).toBe(0);
    await waitFor('read in tab 2', () => inTab2?.unreadCount === 0);
    await a.events.wait('message.read', (e) => e.conversationId === id && e.reader.role === 'visitor' && e.seq === 4);

    // While visible, what arrives is read as it arrives.
    conversation.setVisible(true);
    await a.client.conversations.send(id, 'anything else?');
    await a.events.wait('message.read', (e) => e.conversationId === id && e.seq === 5);
    await waitFor('nothing unread in tab 1', () => conversation.unreadCount === 0);
    conversation.setVisible(false);

    // Tab 2 is cut off while the agent writes twice; it comes back counting both.
    proxy.cutAll();
    await a.client.conversations.send(id, 'one');
    await a.client.conversations.send(id, 'two');
    await waitFor('2 unread in tab 2 after its reconnect', () => inTab2?.unreadCount === 2, {
      describe: () => `tab 2 counts ${inTab2?.unreadCount}`,
    });
    expect(conversation.unreadCount).toBe(2);

    // The agent reads: the visitor hears the receipt.
    await a.client.conversations.read(id);
    const receipt = await tab1.events.wait('read', (e) => e.conversationId === id && e.seq === 7);
    expect(receipt.reader).toMatchObject({ id: owner.id, role: 'agent' });
  }, 60_000);

  it('moves statuses from the console, the visitor following; continues a resolved conversation in a new one', async () => {
    const v = visitor(nodeA.url);
    const a = agent(nodeB.url, owner);
    await a.client.ready;
    const conversation = await v.client.startConversation({ text: 'hi' });
    const id = conversation.id;
    const status = (s: string) => v.events.wait('conversation', (c) => c.id === id && c.status === s);

    expect((await a.client.conversations.pend(id)).status).toBe('pending');
    await status('pending');
    const until = new Date(Date.now() + 3_600_000);
    expect(await a.client.conversations.snooze(id, until)).toMatchObject({
      status: 'snoozed',
      snoozedUntil: until.toISOString(),
    });
    await status('snoozed');
    expect((await a.client.conversations.reopen(id)).status).toBe('open');
    expect((await a.client.conversations.resolve(id)).status).toBe('resolved');
    await status('resolved');
    const change = await a.events.wait(
      'conversation.updated',
      (e) => e.conversation.id === id && e.conversation.status === 'resolved',
    );
    expect(change.change).toMatchObject({ by: { type: 'agent', id: owner.id }, previousStatus: 'open' });
    await expect(a.client.conversations.snooze(id, new Date(Date.now() - 1000))).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });

    // The project starts a new conversation for a message to a resolved one.
    await client(nodeA.url).patch(`/v1/projects/${projectId}`, {
      token: owner.token,
      body: { resolvedConversationReply: 'new' },
    });
    try {
      const sending = conversation.send('back again');
      const stored = await sending;
      expect(stored.conversationId).not.toBe(id);
      const continued = await v.events.wait('continued', (e) => e.from === id);
      expect(continued.conversation.id).toBe(stored.conversationId);
      // The pending message left the resolved conversation's list; it is in the new one's.
      expect(conversation.messages.filter((m) => m.status !== 'sent' || m.text === 'back again')).toEqual([]);
      expect(v.client.conversation(stored.conversationId).messages.map((m) => m.text)).toEqual(['back again']);
    } finally {
      await client(nodeA.url).patch(`/v1/projects/${projectId}`, {
        token: owner.token,
        body: { resolvedConversationReply: 'reopen' },
      });
    }
  }, 60_000);

  it('keeps canned responses: create, search by prefix, render for a conversation, change, remove', async () => {
    const a = agent(nodeA.url, owner);
    await a.client.ready;
    const v = visitor(nodeB.url);
    await v.client.submitPreChatForm({ fullname: 'Ada Cross' });
    const conversation = await v.client.startConversation({ text: 'hi' });
    const thanks = await a.client.cannedResponses.create({
      shortCode: 'thanks',
      text: 'Thanks, {{contact.fullname}}!',
    });
    await a.client.cannedResponses.create({ shortCode: 'thanks-long', text: 'Thank you very much.' });
    expect((await a.client.cannedResponses.list({ q: 'than' })).items.map((r) => r.shortCode)).toEqual([
      'thanks',
      'thanks-long',
    ]);
    expect(await a.client.cannedResponses.render(thanks.id, conversation.id)).toBe('Thanks, Ada Cross!');
    await expect(a.client.cannedResponses.create({ shortCode: 'thanks', text: 'x' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect((await a.client.cannedResponses.update(thanks.id, { text: 'Cheers' })).text).toBe('Cheers');
    await a.client.cannedResponses.remove(thanks.id);
    await expect(a.client.cannedResponses.get(thanks.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
