import jwt from 'jsonwebtoken';
import {
  createAgentClient,
  createVisitorClient,
  memoryStorage,
  type AgentClientEvents,
  type ConnectionStatus,
  type VisitorClientEvents,
} from '@parley/client-sdk';
import { startChaosProxy, type ChaosProxy } from './support/chaos-proxy';
import { createAgent, createProject } from './support/fixtures';
import { startParley, type ParleyProcess } from './support/parley-process';
import { SdkEvents } from './support/sdk-events';
import { outcomeWithin, waitFor } from './support/wait';

/** Far above how long a refusal takes to come back; only a hang takes longer. */
const NO_HANG_MS = 5000;

describe('SDK: outages, and refusals for good', () => {
  let first: ParleyProcess;
  let server: ParleyProcess;
  let proxy: ChaosProxy;
  const clients: { close(): void }[] = [];

  beforeAll(async () => {
    first = await startParley();
    server = first;
    proxy = await startChaosProxy(server.port);
  });
  afterAll(async () => {
    clients.splice(0).forEach((c) => c.close());
    await proxy?.close();
    await server?.stop();
    first?.cleanup();
  });

  it('reports connecting at first, offline after a real outage rather than reconnecting forever, then connected', async () => {
    const { project } = await createProject(server.url);
    const visitor = createVisitorClient({
      url: proxy.url,
      projectId: project.id,
      storage: memoryStorage(),
      offlineAfterMs: 1500,
    });
    clients.push(visitor);
    const statuses: ConnectionStatus[] = [];
    visitor.on('status', (status) => statuses.push(status));
    await visitor.ready;
    expect(statuses).toEqual(['connecting', 'connected']);

    proxy.refuse();
    await waitFor('offline', () => visitor.status === 'offline');
    expect(statuses).toEqual(['connecting', 'connected', 'reconnecting', 'offline']);
    // Offline, yet still trying in the background.
    const refusedBefore = proxy.refusedCount;
    await waitFor('more attempts', () => proxy.refusedCount > refusedBefore + 1);
    expect(statuses.at(-1)).toBe('offline');

    proxy.resume();
    await waitFor('connected again', () => visitor.status === 'connected');
    expect(statuses).toEqual(['connecting', 'connected', 'reconnecting', 'offline', 'connected']);
  });

  it('stops a client refused for good after it was ready: sends fail, calls reject at once; identify() and retry() bring it back', async () => {
    const { project, secret } = await createProject(server.url);
    const account = await createAgent(server.url, project.id);
    const sub = `customer-${Date.now()}`;
    let siteVouches = true;
    // The customer's backend, handing out tokens while the user is logged in on the site.
    const verifiedToken = () => {
      if (!siteVouches) throw new Error('not logged in on the site any more');
      return jwt.sign({ sub }, secret, { algorithm: 'HS256', expiresIn: 600 });
    };
    // Long ack timeouts: a client that waited for a connection that never comes would hang here.
    const visitor = createVisitorClient({
      url: proxy.url,
      projectId: project.id,
      storage: memoryStorage(),
      verifiedToken,
      ackTimeoutMs: 60_000,
    });
    const agent = createAgentClient({ url: proxy.url, token: account.token, ackTimeoutMs: 60_000 });
    clients.push(visitor, agent);
    const visitorEvents = new SdkEvents<VisitorClientEvents>((e, l) => visitor.on(e, l), ['error']);
    const agentEvents = new SdkEvents<AgentClientEvents>((e, l) => agent.on(e, l), ['error']);
    await Promise.all([visitor.ready, agent.ready]);
    const conversation = await visitor.startConversation({ text: 'before the restart' });
    await waitFor('the first message stored', () => conversation.messages[0]?.status === 'sent');
    await agent.conversations.join(conversation.id);

    // The server comes back on its data with a new JWT secret: every token it issued is void, the
    // agent client has only its token, and the site no longer vouches for the visitor.
    siteVouches = false;
    await server.stop();
    const queued = conversation.send('written during the restart');
    server = await startParley({
      dataDir: first.dataDir,
      env: { ...first.env, JWT_SECRET: 'another-jwt-secret-0123456789abcdef012345' },
    });
    proxy.retarget(server.port);

    expect((await visitorEvents.wait('error')).code).toBe('UNAUTHORIZED');
    expect((await agentEvents.wait('error')).code).toBe('UNAUTHORIZED');
    expect([visitor.status, agent.status]).toEqual(['offline', 'offline']);
    // The queued message failed with the refusal; everything after it fails at once.
    expect(await outcomeWithin(queued, NO_HANG_MS)).toMatchObject({
      state: 'rejected',
      error: { code: 'UNAUTHORIZED' },
    });
    expect(conversation.messages.at(-1)).toMatchObject({ status: 'failed', error: { code: 'UNAUTHORIZED' } });
    const calls: Promise<unknown>[] = [
      conversation.send('after the refusal'),
      visitor.conversations(),
      visitor.startConversation(),
      visitor.submitPreChatForm({ fullname: 'Nobody' }),
      agent.conversations.send(conversation.id, 'agent after the refusal'),
      agent.conversations.join(conversation.id),
      agent.leads.search({}),
    ];
    for (const call of calls) {
      expect(await outcomeWithin(call, NO_HANG_MS)).toMatchObject({
        state: 'rejected',
        error: { code: 'UNAUTHORIZED', retryable: false },
      });
    }
    expect(conversation.messages.map((m) => [m.status, m.text])).toEqual([
      ['sent', 'before the restart'],
      ['failed', 'written during the restart'],
      ['failed', 'after the refusal'],
    ]);

    // The user logs in on the site again: identify() brings the same visitor back, lists intact;
    // a failed message can be sent again (same clientMessageId) or discarded.
    siteVouches = true;
    await expect(visitor.identify(verifiedToken)).resolves.toEqual({ id: sub, kind: 'verified' });
    expect(visitor.status).toBe('connected');
    const [, during, after] = conversation.messages;
    const retried = await conversation.retry(during as { clientMessageId: string });
    expect(retried).toMatchObject({
      seq: 2,
      text: 'written during the restart',
      clientMessageId: during?.clientMessageId,
    });
    expect(conversation.discard(after as { clientMessageId: string })).toBe(true);
    expect(conversation.discard(after as { clientMessageId: string })).toBe(false);
    expect(conversation.messages.map((m) => [m.status, m.text])).toEqual([
      ['sent', 'before the restart'],
      ['sent', 'written during the restart'],
    ]);
    await expect(conversation.retry(retried)).rejects.toMatchObject({ code: 'BAD_REQUEST' });

    const reader = createAgentClient({ url: server.url, email: account.email, password: account.password });
    clients.push(reader);
    const page = await reader.conversations.page(conversation.id);
    expect(page.items.map((m) => m.text)).toEqual(['before the restart', 'written during the restart']);
  }, 60_000);
});
