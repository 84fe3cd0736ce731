import jwt from 'jsonwebtoken';
import {
  createAgentClient,
  createVisitorClient,
  memoryStorage,
  ParleyError,
  type AgentClient,
  type TokenStorage,
  type VisitorClient,
  type VisitorClientEvents,
  type VisitorClientOptions,
} from '@parley/client-sdk';
import { startChaosProxy, type ChaosProxy } from './support/chaos-proxy';
import { createAgent, createProject } from './support/fixtures';
import { ManualClock } from './support/manual-clock';
import { startParley, type ParleyProcess } from './support/parley-process';
import { SdkEvents } from './support/sdk-events';
import { outcomeWithin, waitFor } from './support/wait';

/** Who a visitor session in storage belongs to. */
function storedUser(storage: TokenStorage, projectId: string): { id: string; kind: string } | undefined {
  const raw = storage.getItem(`parley:${projectId}:visitor`);
  return raw ? (JSON.parse(raw) as { user: { id: string; kind: string } }).user : undefined;
}

describe('SDK: who the visitor is (identify, logout, verified tokens, tabs)', () => {
  let server: ParleyProcess;
  let proxy: ChaosProxy;
  let projectId: string;
  let secret: string;
  let agent: AgentClient;
  const clients: { close(): void }[] = [];

  beforeAll(async () => {
    server = await startParley();
    proxy = await startChaosProxy(server.port);
    const created = await createProject(server.url);
    projectId = created.project.id;
    secret = created.secret;
    const account = await createAgent(server.url, projectId);
    agent = createAgentClient({ url: server.url, token: account.token });
    clients.push(agent);
    await agent.ready;
  });
  afterAll(async () => {
    clients.splice(0).forEach((c) => c.close());
    await proxy?.close();
    await server?.stop();
    server?.cleanup();
  });

  const sign = (sub: string) => jwt.sign({ sub }, secret, { algorithm: 'HS256', expiresIn: 600 });

  function visitor(options: Partial<VisitorClientOptions> = {}): {
    client: VisitorClient;
    events: SdkEvents<VisitorClientEvents>;
  } {
    const client = createVisitorClient({ url: server.url, projectId, storage: memoryStorage(), ...options });
    clients.push(client);
    return { client, events: new SdkEvents<VisitorClientEvents>((e, l) => client.on(e, l), ['message', 'error']) };
  }

  it("identify() as another user drops the previous visitor's lists, handles and unsent messages", async () => {
    const sub = `customer-${Date.now()}`;
    // The customer already chatted from another browser.
    const elsewhere = visitor({ verifiedToken: sign(sub) });
    const theirs = await elsewhere.client.startConversation({ text: 'from my other browser' });
    await waitFor('that message stored', () => theirs.messages[0]?.status === 'sent');

    // Anonymous first, with a conversation and a message the server has not acknowledged yet.
    const v = visitor({ url: proxy.url, transports: ['websocket'] });
    const anonymous = await v.client.startConversation({ text: 'as anonymous' });
    await waitFor('the first message stored', () => anonymous.messages[0]?.status === 'sent');
    proxy.stallWebSockets(); // the live connection goes silent: the next send waits for its ack
    const unsent = anonymous.send('never acknowledged');
    expect(anonymous.messages.map((m) => m.status)).toEqual(['sent', 'pending']);

    await expect(v.client.identify(sign(sub))).resolves.toEqual({ id: sub, kind: 'verified' });

    // Nothing of the anonymous visitor is left, and nothing of it is sent as the customer.
    await expect(unsent).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(anonymous.send('from a stale handle')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    expect(v.client.conversationData(anonymous.id)).toBeUndefined();
    expect(v.client.pendingCount).toBe(0);
    // The customer's own conversations, and only those.
    const mine = await v.client.conversations();
    expect(mine.map((c) => c.id)).toEqual([theirs.id]);
    expect((await mine[0]?.history())?.map((m) => m.text)).toEqual(['from my other browser']);
    await mine[0]?.send('now here');
    // The old conversation never got the unacknowledged message, and no catch-up of it was tried
    // as the new user (it would have been refused with NOT_FOUND and reported).
    const page = await agent.conversations.page(anonymous.id);
    expect(page.items.map((m) => m.text)).toEqual(['as anonymous']);
    // A catch-up as the new user would have been sent when it connected; a history fetch on the
    // same connection now is the marker: once it is answered, that refusal would have been too.
    await mine[0]?.history();
    expect(v.events.of('error')).toEqual([]);
    expect(
      v.events.of('message').filter((e) => e.conversationId === anonymous.id && e.message.status !== 'pending'),
    ).toEqual([expect.objectContaining({ message: expect.objectContaining({ text: 'as anonymous' }) })]);
  });

  it('logout() forgets the visitor and everything of it, and signs in afresh as a new anonymous visitor', async () => {
    const sub = `logging-out-${Date.now()}`;
    const storage = memoryStorage();
    const alice = visitor({ storage, verifiedToken: sign(sub) });
    const aliceConversation = await alice.client.startConversation({ text: 'private matter' });
    await waitFor('it is stored', () => aliceConversation.messages[0]?.status === 'sent');

    await alice.client.logout();
    expect(alice.client.user?.kind).toBe('anonymous');
    expect(await alice.client.conversations()).toEqual([]);
    expect(storedUser(storage, projectId)).toEqual(alice.client.user);
    await expect(aliceConversation.send('after logout')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('does not carry on as a stored verified visitor when the page no longer passes a verifiedToken', async () => {
    const sub = `shared-computer-${Date.now()}`;
    const storage = memoryStorage();
    const alice = visitor({ storage, verifiedToken: sign(sub) });
    const aliceConversation = await alice.client.startConversation({ text: 'private matter' });
    await waitFor('it is stored', () => aliceConversation.messages[0]?.status === 'sent');
    alice.client.close();

    // Alice left without the site calling logout(); the next person on this computer loads the
    // site, which (nobody being logged in) passes no verifiedToken: they are not Alice.
    const again = visitor({ storage, verifiedToken: sign(sub) });
    await again.client.ready;
    expect(again.client.user).toEqual({ id: sub, kind: 'verified' });
    again.client.close();
    const next = visitor({ storage });
    await next.client.ready;
    expect(next.client.user?.kind).toBe('anonymous');
    expect(await next.client.conversations()).toEqual([]);
    expect(storedUser(storage, projectId)?.kind).toBe('anonymous');
    next.client.close();

    // Alice back, vouched for by the site: her conversations again.
    const back = visitor({ storage, verifiedToken: sign(sub) });
    expect((await back.client.conversations()).map((c) => c.id)).toEqual([aliceConversation.id]);
  });

  it('a verifiedToken that is not one, or a verifiedToken function that fails, rejects ready and is not retried', async () => {
    const cases: [VisitorClientOptions['verifiedToken'], string][] = [
      ['not-a-jwt', 'BAD_REQUEST'],
      [jwt.sign({ email: 'no-sub@example.com' }, secret, { algorithm: 'HS256', expiresIn: 600 }), 'BAD_REQUEST'],
      [() => Promise.reject(new Error('your backend said 401')), 'UNAUTHORIZED'],
      [
        () => {
          throw new TypeError('a bug in the page');
        },
        'UNAUTHORIZED',
      ],
    ];
    for (const [verifiedToken, code] of cases) {
      let calls = 0;
      const counted =
        typeof verifiedToken === 'function'
          ? () => {
              calls++;
              return verifiedToken();
            }
          : verifiedToken;
      // The client's timers on a clock of the test's: whatever it would retry with is fired below.
      const clock = new ManualClock();
      const v = visitor({ clock, ...(counted === undefined ? {} : { verifiedToken: counted }) });
      const outcome = await outcomeWithin(v.client.ready, 10_000);
      expect(outcome).toMatchObject({ state: 'rejected', error: expect.any(ParleyError) });
      const error = (outcome as { error: ParleyError }).error;
      expect(error.code).toBe(code);
      expect(error.retryable).toBe(false);
      if (typeof verifiedToken === 'function') expect(error.cause).toBeInstanceOf(Error);
      // Nobody signed in anonymously behind the page's back, and the client stopped.
      expect(v.client.user).toBeUndefined();
      expect(v.client.status).toBe('offline');
      for (let fired = 0; fired < 50 && clock.advanceToNext() !== undefined; fired++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(clock.waiting()).toEqual([]);
      expect(calls).toBeLessThanOrEqual(1);
    }
  });

  it('two tabs opened at the same moment become one visitor', async () => {
    const storage = memoryStorage();
    const [a, b] = [visitor({ storage }), visitor({ storage })];
    await Promise.all([a.client.ready, b.client.ready]);
    expect(a.client.user?.id).toBeDefined();
    expect(b.client.user?.id).toBe(a.client.user?.id);
    expect(storedUser(storage, projectId)?.id).toBe(a.client.user?.id);
    // One visitor: a conversation started in one tab is the other's too.
    const conversation = await a.client.startConversation({ text: 'tab A' });
    expect((await b.client.conversations()).map((c) => c.id)).toEqual([conversation.id]);
  });
});
