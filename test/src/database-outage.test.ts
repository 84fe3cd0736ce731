import type {
  AckResponse,
  AgentLoginResponse,
  Conversation,
  ConversationStartResult,
  HealthResponse,
  Message,
  MessageSendResult,
} from '@parley/protocol';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startOutageDatabase, storedMessages, type OutageDatabase } from './support/outage-database';
import { startParley, type ParleyProcess } from './support/parley-process';
import {
  command,
  connectAgent,
  connectVisitor,
  EventLog,
  ok,
  type AgentClientSocket,
  type VisitorClientSocket,
} from './support/sockets';
import { outcomeWithin, waitFor } from './support/wait';

/**
 * Far above what the gateway's database timeouts allow (about 10 s); a deadline for "never", not
 * a speed check. Before those timeouts a hung database held commands for 35 to 65 s.
 */
const ANSWER_BOUND_MS = 30_000;

jest.setTimeout(180_000);

/**
 * The database goes away in the middle of a conversation, with a visitor and an agent connected
 * to a gateway process that stays up throughout: every command and request is answered
 * `UNAVAILABLE` in bounded time, nothing is acknowledged that was not stored, `/readyz` says so
 * while `/healthz` does not, and once the database is back the same process and the same sockets
 * carry on, retries included (a retry never stores a message twice).
 */
describe('the database goes away mid-conversation', () => {
  let db: OutageDatabase;
  let server: ParleyProcess;
  let pid: number;
  let projectId: string;
  let agent: TestAgent;
  let visitorSocket: VisitorClientSocket;
  let agentSocket: AgentClientSocket;
  let agentEvents: EventLog;
  let conversationId: string;
  const sockets: { close(): void }[] = [];
  /** Every message an ok ack returned, by clientMessageId: each must be stored once, at that seq. */
  const acked = new Map<string, Message>();

  const describeState = () =>
    `database: ${db.description}\n--- gateway ---\n${server.output()}\n--- database ---\n${db.output()}`;

  beforeAll(async () => {
    db = await startOutageDatabase();
    server = await startParley({ env: { MONGODB_URI: db.uri } });
    pid = server.process.pid as number;
    projectId = (await createProject(server.url)).project.id;
    agent = await createAgent(server.url, projectId);
    const visitor = await anonymousVisitor(server.url, projectId);
    visitorSocket = await connectVisitor(server.url, visitor.token);
    agentSocket = await connectAgent(server.url, agent.token);
    sockets.push(visitorSocket, agentSocket);
    agentEvents = new EventLog(agentSocket);
    const started = await ok<ConversationStartResult>(visitorSocket, 'conversation:start', {});
    conversationId = started.conversation.id;
    for (const id of ['v1', 'v2']) expect((await send(visitorSocket, id)).ok).toBe(true);
    for (const id of ['a1', 'a2']) expect((await send(agentSocket, id)).ok).toBe(true);
  });

  afterAll(async () => {
    // A case that failed half-way may have left the database away: the gateway stops faster with it.
    await db?.comeBack().catch(() => undefined);
    sockets.splice(0).forEach((s) => s.close());
    await server?.stop();
    server?.cleanup();
    await db?.close();
  });

  /** A send whose ack is kept when ok; rejects only if no answer comes in bounded time. */
  async function send(
    socket: VisitorClientSocket | AgentClientSocket,
    clientMessageId: string,
  ): Promise<AckResponse<MessageSendResult>> {
    const answer = await command<MessageSendResult>(
      socket,
      'message:send',
      { conversationId, clientMessageId, text: clientMessageId },
      ANSWER_BOUND_MS,
    );
    if (answer.ok) acked.set(clientMessageId, answer.data.message);
    return answer;
  }

  const unavailable = { ok: false, error: { code: 'UNAVAILABLE' } };

  /** Every kind of entry point while the database cannot answer: each says UNAVAILABLE, in bounded time. */
  async function expectEveryEntryPointUnavailable(tag: string): Promise<string[]> {
    const sends = [`v-${tag}`, `a-${tag}`];
    const bounded = <T>(name: string, payload: unknown, socket: VisitorClientSocket | AgentClientSocket) =>
      command<T>(socket, name, payload, ANSWER_BOUND_MS).then((answer) => ({ name, answer }));
    const answers = await Promise.all([
      send(visitorSocket, sends[0] as string).then((answer) => ({ name: 'visitor message:send', answer })),
      send(agentSocket, sends[1] as string).then((answer) => ({ name: 'agent message:send', answer })),
      bounded('conversation:history', { conversationId }, visitorSocket),
      bounded('conversation:list', {}, visitorSocket),
      bounded('conversation:start', { text: `start-${tag}` }, visitorSocket),
      bounded('lead:update', { fullname: `Name ${tag}` }, visitorSocket),
      bounded('conversation:join', { conversationId }, agentSocket),
      bounded('conversation:history', { conversationId }, agentSocket).then((a) => ({ ...a, name: 'agent history' })),
    ]);
    for (const { name, answer } of answers) expect({ name, answer }).toMatchObject({ name, answer: unavailable });

    const api = client(server.url);
    const requests = await Promise.all(
      [
        api.get(`/v1/projects/${projectId}/conversations`, { token: agent.token }),
        api.get(`/v1/projects/${projectId}/conversations/${conversationId}/messages`, { token: agent.token }),
        api.get(`/v1/projects/${projectId}/leads`, { token: agent.token }),
        api.post('/v1/agents/login', { body: { email: agent.email, password: agent.password } }),
      ].map((request) => outcomeWithin(request, ANSWER_BOUND_MS)),
    );
    for (const outcome of requests) {
      if (outcome.state !== 'resolved') throw new Error(`a REST request was not answered: ${outcome.state}`);
      expect(outcome.value.status).toBe(503);
      expect(outcome.value.body).toMatchObject({ error: { code: 'UNAVAILABLE' } });
      expect(Number(outcome.value.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }

    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect((await ready.json()) as HealthResponse).toMatchObject({ checks: { database: 'down' } });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    return sends;
  }

  /** The same process, the same sockets, and a database that answers again. */
  async function expectBackInService(): Promise<void> {
    await waitFor('the gateway to be ready again', async () => (await fetch(`${server.url}/readyz`)).status === 200, {
      timeoutMs: 60_000,
      describe: describeState,
    });
    expect(server.process.pid).toBe(pid);
    expect(server.process.exitCode).toBeNull();
    expect(visitorSocket.connected).toBe(true);
    expect(agentSocket.connected).toBe(true);
  }

  /** Every acknowledged message is stored once, at the seq its ack gave; seqs have no gap. */
  async function expectAckedStored(): Promise<void> {
    const stored = await db.read((d) => storedMessages(d, conversationId));
    const seqs = stored.map((m) => m['seq'] as number);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    for (const [clientMessageId, message] of acked) {
      const copies = stored.filter((m) => m['clientMessageId'] === clientMessageId);
      expect({ clientMessageId, seqs: copies.map((m) => m['seq']) }).toEqual({ clientMessageId, seqs: [message.seq] });
    }
  }

  /**
   * Every send of the conversation was retried until acknowledged: it holds exactly those
   * messages, and its counters say so.
   */
  async function expectEverySendRecorded(): Promise<void> {
    const stored = await db.read((d) => storedMessages(d, conversationId));
    expect(stored.map((m) => m['clientMessageId']).sort()).toEqual([...acked.keys()].sort());
    const conversation = await conversationNow();
    expect({ lastSeq: conversation.lastSeq, messageCount: conversation.messageCount }).toEqual({
      lastSeq: acked.size,
      messageCount: acked.size,
    });
  }

  const conversationNow = async () =>
    (
      await client(server.url).get<{ conversation: Conversation }>(
        `/v1/projects/${projectId}/conversations/${conversationId}`,
        { token: agent.token },
      )
    ).body.conversation;

  it('stopped (connections refused, the embedded server killed): UNAVAILABLE until it returns, then everything resumes', async () => {
    // One send whose insert the database executes but whose reply never comes back: the database
    // goes away while the reply is held. It may not be acknowledged; its retry finds what it stored.
    const held = db.wire.holdReplyTo((m) => m.includes('\x02insert\x00') && m.includes('v-lost\x00'));
    const lost = send(visitorSocket, 'v-lost');
    await held.held;
    await db.goAway();
    expect(await lost).toMatchObject(unavailable);

    const refused = await expectEveryEntryPointUnavailable('away');

    await db.comeBack();
    await expectBackInService();

    // What the database stored of the lost send is there once; its retry is answered with it,
    // records it on the conversation and tells the agent, as a first attempt would have.
    const [stored] = await db.read((d) =>
      d.collection('messages').find({ conversationId, clientMessageId: 'v-lost' }).toArray(),
    );
    expect(stored).toBeDefined();
    const retried = await send(visitorSocket, 'v-lost');
    expect(retried).toMatchObject({ ok: true, data: { message: { clientMessageId: 'v-lost', seq: stored?.['seq'] } } });
    expect((await conversationNow()).lastSeq).toBeGreaterThanOrEqual(stored?.['seq'] as number);
    await agentEvents.wait<{ message: Message }>('message.created', (p) => p.message.clientMessageId === 'v-lost');

    // The sends refused while it was away go through on retry, once each.
    expect(await send(visitorSocket, refused[0] as string)).toMatchObject({ ok: true });
    expect(await send(agentSocket, refused[1] as string)).toMatchObject({ ok: true });
    expect(await send(visitorSocket, 'v-after-away')).toMatchObject({ ok: true });

    // New sign-ins and sockets work too.
    const newcomer = await anonymousVisitor(server.url, projectId);
    const newcomerSocket = await connectVisitor(server.url, newcomer.token);
    sockets.push(newcomerSocket);
    await ok<ConversationStartResult>(newcomerSocket, 'conversation:start', { text: 'hello after the outage' });
    const login = await client(server.url).post<AgentLoginResponse>('/v1/agents/login', {
      body: { email: agent.email, password: agent.password },
    });
    expect(login.status).toBe(200);
    sockets.push(await connectAgent(server.url, login.body.token));

    await expectAckedStored();
    await expectEverySendRecorded();
  });

  it('hung (connections open, nothing answered): UNAVAILABLE in bounded time, then everything resumes', async () => {
    // Back from the previous case even if it failed half-way.
    await db.comeBack();
    await expectBackInService();
    db.stall();
    const refused = await expectEveryEntryPointUnavailable('hung');

    await db.comeBack();
    await expectBackInService();
    expect(await send(visitorSocket, refused[0] as string)).toMatchObject({ ok: true });
    expect(await send(agentSocket, refused[1] as string)).toMatchObject({ ok: true });
    expect(await send(agentSocket, 'a-after-hung')).toMatchObject({ ok: true });
    await expectAckedStored();
    await expectEverySendRecorded();
  });
});
