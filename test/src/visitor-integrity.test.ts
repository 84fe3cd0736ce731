import jwt from 'jsonwebtoken';
import type {
  ConversationStartResult,
  ErrorResponse,
  LeadUpdateResult,
  Message,
  MessageSendResult,
  VisitorAuthResponse,
} from '@parley/protocol';
import { startDatabase, type TestDatabase } from './support/database';
import { anonymousVisitor, createAgent, createProject } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';
import { command, connectAgent, connectVisitor, EventLog, ok } from './support/sockets';

const now = () => Math.floor(Date.now() / 1000);

/**
 * What a visitor cannot do to the data however it tries (starting around limits, overwriting what
 * a customer vouched for), and what the server finishes when a node crashed half-way through a
 * write: the crash is reproduced by writing directly into the database what a crashed node leaves.
 */
describe('visitor writes keep their integrity', () => {
  let database: TestDatabase;
  let server: ParleyProcess;
  beforeAll(async () => {
    database = await startDatabase();
    server = await startParley({
      env: {
        MONGODB_URI: database.uri,
        MESSAGE_MAX_LENGTH: '100',
        RATE_LIMIT_MESSAGES_PER_MINUTE: '3',
        RATE_LIMIT_CONVERSATIONS_PER_MINUTE: '4',
      },
    });
  });
  afterAll(async () => {
    await server.stop();
    server.cleanup();
    await database.stop();
  });

  /** An agent of the project with a socket whose events are recorded. */
  async function agentConsole(projectId: string) {
    const agent = await createAgent(server.url, projectId);
    const agentSocket = await connectAgent(server.url, agent.token);
    return { agentSocket, agentEvents: new EventLog(agentSocket) };
  }

  async function visitor(projectId: string) {
    const auth = await anonymousVisitor(server.url, projectId);
    const socket = await connectVisitor(server.url, auth.token);
    return { auth, socket };
  }

  it('refuses a start whose first message is too long, leaving no conversation and no lead', async () => {
    const { project } = await createProject(server.url);
    const { auth, socket } = await visitor(project.id);
    try {
      const refused = await command(socket, 'conversation:start', { text: 'x'.repeat(101) });
      expect(refused).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
      expect(await database.db.collection('conversations').countDocuments({ userId: auth.user.id })).toBe(0);
      expect(await database.db.collection('leads').countDocuments({ userId: auth.user.id })).toBe(0);
    } finally {
      socket.close();
    }
  });

  it('counts a first message against the message limit, and new conversations against their own', async () => {
    const { project } = await createProject(server.url);
    const { auth, socket } = await visitor(project.id);
    try {
      // Three messages a minute: two starts with text and one send use them up.
      await ok(socket, 'conversation:start', { text: 'one' });
      const { conversation } = await ok<ConversationStartResult>(socket, 'conversation:start', { text: 'two' });
      await ok(socket, 'message:send', { conversationId: conversation.id, clientMessageId: 'm3', text: 'three' });
      const fourth = await command(socket, 'conversation:start', { text: 'four' });
      expect(fourth).toMatchObject({
        ok: false,
        error: { code: 'RATE_LIMITED', details: { retryAfterMs: expect.any(Number) } },
      });
      const send = await command(socket, 'message:send', {
        conversationId: conversation.id,
        clientMessageId: 'm4',
        text: 'x',
      });
      expect(send).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
      // A refused start created nothing.
      expect(await database.db.collection('conversations').countDocuments({ userId: auth.user.id })).toBe(2);

      // Without text, starts are limited by the conversation limit (4 a minute; 3 used above).
      await ok(socket, 'conversation:start', {});
      const fifth = await command(socket, 'conversation:start', {});
      expect(fifth).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
      expect(await database.db.collection('conversations').countDocuments({ userId: auth.user.id })).toBe(3);
    } finally {
      socket.close();
    }
  });

  it('keeps stored attributes within 50 keys across many pre-chat submits', async () => {
    const { project } = await createProject(server.url);
    const { auth, socket } = await visitor(project.id);
    try {
      const keys = (from: number) => Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${from + i}`, 'v']));
      await ok(socket, 'lead:update', { attributes: keys(0) });
      const refused = await command(socket, 'lead:update', { attributes: keys(30) });
      expect(refused).toMatchObject({
        ok: false,
        error: { code: 'BAD_REQUEST', details: { fields: [expect.objectContaining({ field: 'attributes' })] } },
      });
      // Removing keys makes room: 30 - 20 + 30 = 40.
      const removeAndAdd = {
        ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, null])),
        ...keys(30),
      };
      await ok(socket, 'lead:update', { attributes: removeAndAdd });
      const lead = await database.db.collection('leads').findOne({ userId: auth.user.id });
      expect(Object.keys(lead?.['attributes'] as object)).toHaveLength(40);
    } finally {
      socket.close();
    }
  });

  it("does not let a verified visitor change what the customer's token vouched for", async () => {
    const { project, secret } = await createProject(server.url);
    const { agentSocket, agentEvents } = await agentConsole(project.id);
    const token = jwt.sign(
      { sub: 'cust-42', exp: now() + 300, email: 'real@customer.test', fullname: 'Real Name' },
      secret,
    );
    const signedIn = await client(server.url).post<VisitorAuthResponse>(`/v1/projects/${project.id}/auth/verified`, {
      body: { token },
    });
    const socket = await connectVisitor(server.url, signedIn.body.token);
    try {
      const spoof = await command(socket, 'lead:update', { email: 'ceo@bank.test', fullname: 'Spoofed' });
      expect(spoof).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
      expect(!spoof.ok && spoof.error.details?.fields?.map((f) => f.field).sort()).toEqual(['email', 'fullname']);
      // The same values (a pre-chat form shown anyway) and fields the token left open are fine.
      const same = await ok<LeadUpdateResult>(socket, 'lead:update', {
        email: 'real@customer.test',
        phone: '+1 555 0100',
      });
      expect(same.lead).toMatchObject({ email: 'real@customer.test', fullname: 'Real Name', phone: '+1 555 0100' });
      const updated = await agentEvents.wait<{ changes: string[] }>('lead.updated');
      expect(updated.changes).toEqual(['phone']);
      const lead = await database.db.collection('leads').findOne({ projectId: project.id, userId: 'cust-42' });
      expect(lead).toMatchObject({ email: 'real@customer.test', fullname: 'Real Name', kind: 'verified' });
      expect(JSON.stringify(same)).not.toContain('verifiedFields');
    } finally {
      socket.close();
      agentSocket.close();
    }
  });

  it('gives verified visitors a day-long token that refreshes keep within the session age', async () => {
    const { project, secret } = await createProject(server.url);
    const token = jwt.sign({ sub: 'cust-7', exp: now() + 300 }, secret);
    const api = client(server.url);
    const signedIn = await api.post<VisitorAuthResponse>(`/v1/projects/${project.id}/auth/verified`, {
      body: { token },
    });
    const lifetime = Date.parse(signedIn.body.expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(23.9 * 3600_000);
    expect(lifetime).toBeLessThanOrEqual(24 * 3600_000);
    const refreshed = await api.post<VisitorAuthResponse>('/v1/auth/refresh', { token: signedIn.body.token, body: {} });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.user).toEqual({ id: 'cust-7', kind: 'verified' });
    const claims = (t: string) => jwt.decode(t) as { vat: number };
    expect(claims(refreshed.body.token).vat).toBe(claims(signedIn.body.token).vat);
  });

  it('finishes a message a crashed node stored but never recorded: the next writer announces it', async () => {
    const { project } = await createProject(server.url);
    const { agentSocket, agentEvents } = await agentConsole(project.id);
    const { auth, socket } = await visitor(project.id);
    try {
      const { conversation } = await ok<ConversationStartResult>(socket, 'conversation:start', { text: 'hello' });
      await agentEvents.wait<{ message: Message }>('message.created', (e) => e.message.seq === 1);
      // What a node killed between its insert and its conversation update leaves: message 2 stored,
      // the conversation still ending at 1, nothing announced.
      await database.db.collection('messages').insertOne({
        _id: 'orphan-message-2' as never,
        conversationId: conversation.id,
        projectId: project.id,
        seq: 2,
        clientMessageId: 'lost-ack',
        sender: { id: auth.user.id, role: 'visitor' },
        text: 'stored, then the node died',
        createdAt: new Date(),
      });
      // The agent answers (on a node that knows nothing of it): its message takes seq 3.
      const reply = await ok<MessageSendResult>(agentSocket, 'message:send', {
        conversationId: conversation.id,
        clientMessageId: 'agent-1',
        text: 'hi!',
      });
      expect(reply.message.seq).toBe(3);
      const orphan = await agentEvents.wait<{ message: Message }>('message.created', (e) => e.message.seq === 2);
      expect(orphan.message.text).toBe('stored, then the node died');
      const stored = await database.db.collection('conversations').findOne({ _id: conversation.id as never });
      expect(stored).toMatchObject({ lastSeq: 3, messageCount: 3 });

      // The visitor's retry of the lost send gets the stored message and announces nothing again
      // (the reply's own push may still be on its way, through Redis when REDIS_URL is set).
      await agentEvents.wait<{ message: Message }>('message.created', (e) => e.message.seq === 3);
      agentEvents.clear();
      const retry = await ok<MessageSendResult>(socket, 'message:send', {
        conversationId: conversation.id,
        clientMessageId: 'lost-ack',
        text: 'stored, then the node died',
      });
      expect(retry.message).toMatchObject({ seq: 2, id: 'orphan-message-2' });
      // A new message after the retry is the marker: pushes arrive in order (through Redis too, one
      // stream), so once it is here an announcement of the retry would have been too.
      await ok(socket, 'message:send', { conversationId: conversation.id, clientMessageId: 'marker', text: 'marker' });
      await agentEvents.wait<{ message: Message }>('message.created', (e) => e.message.clientMessageId === 'marker');
      expect(agentEvents.of<{ message: Message }>('message.created').map((e) => e.message.seq)).toEqual([4]);
    } finally {
      socket.close();
      agentSocket.close();
    }
  });

  it('finishes a start a crashed node stored but never announced, once, on its retry', async () => {
    const { project } = await createProject(server.url);
    const { agentSocket, agentEvents } = await agentConsole(project.id);
    const { auth, socket } = await visitor(project.id);
    try {
      await ok(socket, 'lead:update', { fullname: 'Crash Test' });
      const lead = await database.db.collection('leads').findOne({ projectId: project.id, userId: auth.user.id });
      // A conversation inserted by a node that died before counting and announcing it.
      const at = new Date();
      await database.db.collection('conversations').insertOne({
        _id: 'crashed-start' as never,
        projectId: project.id,
        leadId: lead?.['_id'],
        userId: auth.user.id,
        status: 'open',
        participants: [auth.user.id],
        messageCount: 0,
        lastSeq: 0,
        attributes: {},
        requestId: 'start-1',
        announced: false,
        createdAt: at,
        updatedAt: at,
      });
      const retries = await Promise.all(
        [1, 2, 3].map(() => ok<ConversationStartResult>(socket, 'conversation:start', { requestId: 'start-1' })),
      );
      expect(new Set(retries.map((r) => r.conversation.id))).toEqual(new Set(['crashed-start']));
      const created = await agentEvents.wait<{ lead: { conversationCount: number } }>('conversation.created');
      expect(created.lead.conversationCount).toBe(1);
      // A message in it after the retries is the marker: pushes arrive in order, so once it is
      // here a second announcement of the start would have been too.
      await ok(socket, 'message:send', { conversationId: 'crashed-start', clientMessageId: 'marker', text: 'marker' });
      await agentEvents.wait<{ message: Message }>('message.created', (e) => e.message.clientMessageId === 'marker');
      expect(agentEvents.of('conversation.created')).toHaveLength(1);
      const after = await database.db.collection('leads').findOne({ _id: lead?.['_id'] });
      expect(after?.['conversationCount']).toBe(1);
      const conversation = await database.db.collection('conversations').findOne({ _id: 'crashed-start' as never });
      expect(conversation).not.toHaveProperty('announced');
    } finally {
      socket.close();
      agentSocket.close();
    }
  });

  it('hands out a working secret to each of several racing rotations, and keeps earlier ones in grace', async () => {
    const { project, secret: first } = await createProject(server.url);
    const api = client(server.url);
    const rotate = () =>
      api.post<{ secret: string }>(`/v1/admin/projects/${project.id}/secret/rotate`, {
        token: 'test-admin-token-0123456789abcdef',
      });
    const racing = await Promise.all([rotate(), rotate(), rotate()]);
    const second = await rotate();
    const secrets = [first, ...racing.map((r) => r.body.secret), second.body.secret];
    for (const secret of secrets) {
      const res = await api.post<VisitorAuthResponse | ErrorResponse>(`/v1/projects/${project.id}/auth/verified`, {
        body: { token: jwt.sign({ sub: 'rotating', exp: now() + 60 }, secret) },
      });
      expect(res.status).toBe(201);
    }
  });
});
