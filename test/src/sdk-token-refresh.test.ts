import {
  createAgentClient,
  createVisitorClient,
  memoryStorage,
  type AgentClientEvents,
  type TokenStorage,
  type VisitorClientEvents,
} from '@parley/client-sdk';
import { createAgent, createProject } from './support/fixtures';
import { client } from './support/http';
import { ManualClock } from './support/manual-clock';
import { startParley, type ParleyProcess } from './support/parley-process';
import { runSdkScript } from './support/sdk-script';
import { SdkEvents } from './support/sdk-events';
import { refusedHandshake } from './support/sockets';
import { waitFor } from './support/wait';

/**
 * The server's token lifetime. The clients run on clocks the tests move by hand, so their
 * refreshes come at once; the server's clock is real, and the first test waits for it to pass the
 * first token's expiry. Long enough that a refresh due a third of the lifetime before expiry
 * (3 s in; above the SDK's 2-second floor) tells a correct schedule from one read off a skewed
 * clock, and that a fresh token outlasts the 5 s a reloaded page wants left on a stored one.
 */
const TTL_SECONDS = 6;
const LIFETIME_MS = TTL_SECONDS * 1000;

/** Every refresh came while a third of the token's lifetime was left, and none as a loop. */
function expectRefreshedOnSchedule(delays: number[], floorMs: number): void {
  expect(delays.length).toBeGreaterThan(0);
  for (const delay of delays) {
    expect(delay).toBeGreaterThanOrEqual(floorMs);
    expect(delay).toBeLessThanOrEqual((LIFETIME_MS * 2) / 3);
  }
}

/** A localStorage stand-in that remembers every visitor session the SDK wrote into it. */
function recordingStorage(): TokenStorage & { sessions: { token: string; expiresAt: number; user: { id: string } }[] } {
  const inner = memoryStorage();
  const sessions: { token: string; expiresAt: number; user: { id: string } }[] = [];
  return {
    sessions,
    getItem: (key) => inner.getItem(key),
    setItem: (key, value) => {
      sessions.push(JSON.parse(value) as (typeof sessions)[number]);
      inner.setItem(key, value);
    },
    removeItem: (key) => inner.removeItem(key),
  };
}

/** How many `session:renew` commands the server answered ok on a namespace, from /metrics. */
async function renewals(server: ParleyProcess, namespace: '/visitor' | '/agent'): Promise<number> {
  const { text } = await client(server.url).get('/metrics');
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('parley_command_duration_seconds_count{') &&
        l.includes(`namespace="${namespace}"`) &&
        l.includes('command="session:renew"') &&
        l.includes('outcome="ok"'),
    );
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('SDK token refresh', () => {
  let server: ParleyProcess;
  const clients: { close(): void }[] = [];

  beforeAll(async () => {
    server = await startParley({ env: { VISITOR_TOKEN_TTL: `${TTL_SECONDS}s`, AGENT_TOKEN_TTL: `${TTL_SECONDS}s` } });
  });
  afterAll(async () => {
    clients.splice(0).forEach((c) => c.close());
    await server?.stop();
    server?.cleanup();
  });

  it('keeps a visitor and an agent chatting across several token lifetimes without an error', async () => {
    const { project } = await createProject(server.url);
    const account = await createAgent(server.url, project.id);

    const storage = recordingStorage();
    const visitorClock = new ManualClock();
    const agentClock = new ManualClock();
    const visitor = createVisitorClient({ url: server.url, projectId: project.id, storage, clock: visitorClock });
    clients.push(visitor);
    const visitorEvents = new SdkEvents<VisitorClientEvents>((e, l) => visitor.on(e, l), ['error', 'status']);
    // Token only, no credentials: if the client let this token lapse it could not log in again,
    // and would have to report an error.
    const agent = createAgentClient({ url: server.url, token: account.token, clock: agentClock });
    clients.push(agent);
    const agentEvents = new SdkEvents<AgentClientEvents>((e, l) => agent.on(e, l), ['error', 'status', 'reload']);
    await Promise.all([visitor.ready, agent.ready]);

    const first = storage.sessions[0];
    expect(first).toBeDefined();
    const userId = visitor.user?.id;
    const conversation = await visitor.startConversation({ text: 'hello' });
    await agent.conversations.join(conversation.id);

    // Chat until both tokens have been replaced several times and the first one is dead by the
    // server's (real) clock. Each round moves both clients' clocks to their next timer, which is the
    // token refresh; the server renews the token on the live socket. Tokens are issued to the second
    // (`iat`), so each round waits for the server's second to turn: every refresh brings a new token.
    const texts = ['hello'];
    let round = 0;
    let lastSecond = Math.floor(Date.now() / 1000);
    await waitFor(
      'three token refreshes each, and the first token past its expiry',
      async () => {
        round++;
        texts.push(`visitor ${round}`);
        await conversation.send(`visitor ${round}`);
        texts.push(`agent ${round}`);
        await agent.conversations.send(conversation.id, `agent ${round}`);
        await waitFor('the next second', () => Math.floor(Date.now() / 1000) > lastSecond);
        lastSecond = Math.floor(Date.now() / 1000);
        const before = [await renewals(server, '/visitor'), await renewals(server, '/agent')] as const;
        expect(visitorClock.advanceToNext()).toBeDefined();
        expect(agentClock.advanceToNext()).toBeDefined();
        const after = await waitFor('both tokens renewed on their sockets', async () => {
          const counts = [await renewals(server, '/visitor'), await renewals(server, '/agent')] as const;
          return counts[0] > before[0] && counts[1] > before[1] && counts;
        });
        return Date.now() >= (first?.expiresAt ?? Infinity) && after[0] >= 3 && after[1] >= 3;
      },
      { timeoutMs: 60_000, describe: () => `${storage.sessions.length} visitor sessions stored` },
    );
    // The visitor's token's age is known: refreshed two-thirds into each lifetime. The agent's
    // first token was handed over (age unknown): refreshed after the 2-second floor, then likewise.
    expectRefreshedOnSchedule(visitorClock.fired, LIFETIME_MS / 2);
    expectRefreshedOnSchedule(agentClock.fired.slice(1), LIFETIME_MS / 2);
    expect(agentClock.fired[0]).toBe(2000);

    // The same visitor all along (a lapsed token would have meant a new anonymous sign-in).
    expect(new Set(storage.sessions.map((s) => s.user.id))).toEqual(new Set([userId]));
    expect(new Set(storage.sessions.map((s) => s.token)).size).toBe(storage.sessions.length);
    expect(visitor.user?.id).toBe(userId);
    // The first token has expired: the server refuses it, yet the session carried on.
    const refused = await refusedHandshake(server.url, '/visitor', first?.token);
    expect(refused.message).toBe('UNAUTHORIZED');

    // Every message went through and everyone has the whole conversation; no error reached the UI.
    await waitFor('both lists complete', () =>
      [conversation.messages, agent.conversations.messages(conversation.id)].every((l) => l.length === texts.length),
    );
    expect(conversation.messages.map((m) => [m.status, m.text])).toEqual(texts.map((t) => ['sent', t]));
    expect(agent.conversations.messages(conversation.id).map((m) => m.text)).toEqual(texts);
    expect(visitorEvents.of('error')).toEqual([]);
    expect(agentEvents.of('error')).toEqual([]);
    expect(visitor.status).toBe('connected');
    expect(agent.status).toBe('connected');
    // Renewed on the live sockets: neither connection was ever dropped and re-established.
    expect(visitorEvents.of('status')).toEqual(['connecting', 'connected']);
    expect(agentEvents.of('status')).toEqual(['connecting', 'connected']);
    // REST goes on with the renewed agent token too.
    await expect(agent.leads.search({})).resolves.toMatchObject({ total: 1 });
  }, 90_000);

  it('refreshes on schedule, and stays the same visitor, on a machine whose clock is hours off', async () => {
    // Two machines: one 9 hours ahead (it would think every token expired long ago), one an hour
    // behind (it would think they last an hour longer than they do).
    const runs = await Promise.all(
      [9 * 3600_000, -3600_000].map(async (skew) => {
        const { project } = await createProject(server.url);
        const account = await createAgent(server.url, project.id);
        return runSdkScript(
          'skewed-clock',
          {
            PARLEY_URL: server.url,
            PROJECT_ID: project.id,
            AGENT_EMAIL: account.email,
            AGENT_PASSWORD: account.password,
            SKEW_MS: String(skew),
            ROUNDS: '3',
          },
          { timeoutMs: 90_000 },
        );
      }),
    );
    for (const run of runs) {
      expect({ code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({ code: 0, output: '' });
      const result = run.result as {
        refreshes: number;
        visitorDelays: number[];
        agentDelays: number[];
        sameVisitor: boolean;
        reloadSameVisitor: boolean;
        visitorStatuses: string[];
        agentStatuses: string[];
        errors: string[];
      };
      // Three rounds, each moving both clients' clocks to their next timer: one refresh each per
      // round, due two-thirds into the lifetime by their own clock. Read off the skewed clock
      // against the server's `exp`, 9 hours ahead would refresh at the 2-second floor (a loop),
      // an hour behind only at expiry (dropped sockets).
      expect(result.refreshes).toBe(6);
      expectRefreshedOnSchedule(result.visitorDelays, LIFETIME_MS / 2);
      expectRefreshedOnSchedule(result.agentDelays, LIFETIME_MS / 2);
      expect(result).toMatchObject({
        sameVisitor: true,
        reloadSameVisitor: true,
        visitorStatuses: ['connecting', 'connected'],
        agentStatuses: ['connecting', 'connected'],
        errors: [],
      });
    }
  }, 120_000);
});
