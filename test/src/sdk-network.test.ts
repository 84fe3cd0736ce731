import { createServer as createHttpServer } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import {
  createAgentClient,
  createVisitorClient,
  memoryStorage,
  ParleyError,
  type ConnectionStatus,
} from '@parley/client-sdk';
import { startChaosProxy, type ChaosProxy } from './support/chaos-proxy';
import { createAgent, createProject, type TestAgent } from './support/fixtures';
import { startParley, type ParleyProcess } from './support/parley-process';
import { startPrefixProxy, type PrefixProxy } from './support/prefix-proxy';
import { outcomeWithin, waitFor } from './support/wait';

const texts = (messages: { text: string }[]) => messages.map((m) => m.text);

describe('SDK: what the network and its proxies do', () => {
  let server: ParleyProcess;
  let proxy: ChaosProxy;
  let prefixed: PrefixProxy;
  let projectId: string;
  let account: TestAgent;
  const clients: { close(): void }[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    // A short recovery window: a visitor away for a few seconds must catch up by itself.
    server = await startParley({ env: { RECOVERY_WINDOW: '1s' } });
    proxy = await startChaosProxy(server.port);
    prefixed = await startPrefixProxy(server.port, ['/chat', '/realtime']);
    projectId = (await createProject(server.url)).project.id;
    account = await createAgent(server.url, projectId);
  });
  afterAll(async () => {
    clients.splice(0).forEach((c) => c.close());
    for (const cleanup of cleanups.splice(0)) await cleanup();
    await prefixed?.close();
    await proxy?.close();
    await server?.stop();
    server?.cleanup();
  });

  /** A visitor behind the chaos proxy, in a conversation the agent (direct) has joined. */
  async function chatThroughProxy() {
    const visitor = createVisitorClient({
      url: proxy.url,
      projectId,
      storage: memoryStorage(),
      transports: ['websocket'],
      ackTimeoutMs: 1500,
    });
    const agent = createAgentClient({ url: server.url, token: account.token });
    clients.push(visitor, agent);
    await Promise.all([visitor.ready, agent.ready]);
    const conversation = await visitor.startConversation({ text: 'hello' });
    await agent.conversations.join(conversation.id);
    await waitFor('the first message stored', () => conversation.messages[0]?.status === 'sent');
    return { visitor, agent, conversation };
  }

  it('retries a catch-up that failed until the list is complete', async () => {
    const { agent, conversation } = await chatThroughProxy();
    // Away for longer than the recovery window, while the agent answers; back, the first
    // catch-up's answer is lost on the way.
    proxy.refuse();
    const cutAt = Date.now();
    const refusedBefore = proxy.refusedCount;
    await agent.conversations.send(conversation.id, 'missed while away');
    // The visitor noticed the cut and was refused on trying again, and the server's recovery
    // window (RECOVERY_WINDOW 1 s) is over, so its return cannot be a recovery.
    await waitFor(
      'the visitor to be away past the recovery window',
      () => proxy.refusedCount > refusedBefore && Date.now() > cutAt + 1_500,
    );
    const historyLost = proxy.dropNextFromServer((text) => text.includes('"hasMore"'));
    proxy.resume();
    await historyLost;
    // Nothing else is sent: only a retried catch-up can bring the missed message.
    await waitFor('the missed message', () => conversation.messages.length === 2, {
      describe: () => JSON.stringify(texts(conversation.messages)),
    });
    expect(texts(conversation.messages)).toEqual(['hello', 'missed while away']);
  });

  it('fetches what is missing as soon as a live message skips a seq', async () => {
    const { visitor, agent, conversation } = await chatThroughProxy();
    // A live event lost on a connection that stays up: the next one skips a seq, which is
    // enough to fetch the one in between (no reconnect happens).
    const statuses: ConnectionStatus[] = [];
    visitor.on('status', (s) => statuses.push(s));
    const eventLost = proxy.dropNextFromServer(
      (text) => text.includes('message.created') && text.includes('lost live'),
    );
    await agent.conversations.send(conversation.id, 'lost live');
    await eventLost;
    await agent.conversations.send(conversation.id, 'next live');
    await waitFor('the list without a gap', () => conversation.messages.length === 3, {
      describe: () => JSON.stringify(texts(conversation.messages)),
    });
    expect(conversation.messages.map((m) => (m.status === 'sent' ? m.seq : -1))).toEqual([1, 2, 3]);
    expect(texts(conversation.messages)).toEqual(['hello', 'lost live', 'next live']);
    expect(statuses).toEqual([]);
  });

  it('works with a server under a path prefix, and a Socket.IO path of its own', async () => {
    const url = `${prefixed.origin}/chat`;
    const visitor = createVisitorClient({ url, projectId, storage: memoryStorage() });
    const agent = createAgentClient({ url: `${url}/`, email: account.email, password: account.password });
    // The console's proxy publishes Socket.IO elsewhere.
    const elsewhere = createAgentClient({ url, token: account.token, path: '/realtime/socket.io' });
    clients.push(visitor, agent, elsewhere);
    for (const ready of [visitor.ready, agent.ready, elsewhere.ready])
      expect(await outcomeWithin(ready, 15_000)).toEqual({ state: 'resolved', value: undefined });

    const conversation = await visitor.startConversation({ text: 'through the prefix' });
    await agent.conversations.join(conversation.id);
    await agent.conversations.send(conversation.id, 'answered through it');
    await waitFor('the answer', () => conversation.messages.length === 2);
    expect(texts(await elsewhere.conversations.history(conversation.id))).toEqual([
      'through the prefix',
      'answered through it',
    ]);
    expect((await agent.leads.search({})).total).toBeGreaterThan(0);
  });

  it('gives up on a REST request after requestTimeoutMs, and calls an answer that is not JSON UNAVAILABLE', async () => {
    // A server that accepts connections and never answers.
    const held = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      held.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const socket of held) socket.destroy();
      return new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const mute = createVisitorClient({
      url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      projectId,
      storage: memoryStorage(),
      requestTimeoutMs: 1000,
    });
    clients.push(mute);
    const timedOut = await outcomeWithin(mute.getWidgetConfig(), 10_000);
    expect(timedOut).toMatchObject({ state: 'rejected', error: { code: 'UNAVAILABLE', retryable: true } });
    expect((timedOut as { error: unknown }).error).toBeInstanceOf(ParleyError);
    mute.close();

    // A captive portal, or a proxy answering for the API with a page of its own.
    const portal = createHttpServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Sign in to the Wi-Fi</html>'),
    );
    await new Promise<void>((resolve) => portal.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      portal.closeAllConnections();
      return new Promise<void>((resolve) => portal.close(() => resolve()));
    });
    const captive = createVisitorClient({
      url: `http://127.0.0.1:${(portal.address() as AddressInfo).port}`,
      projectId,
      storage: memoryStorage(),
    });
    clients.push(captive);
    const notJson = await outcomeWithin(captive.getWidgetConfig(), 10_000);
    expect(notJson).toMatchObject({ state: 'rejected', error: { code: 'UNAVAILABLE' } });
    expect((notJson as { error: unknown }).error).toBeInstanceOf(ParleyError);
    captive.close();
  });
});
