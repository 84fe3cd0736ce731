import { MongoClient } from 'mongodb';
import type {
  AckResponse,
  ConversationStartResult,
  ConversationHistoryResult,
  Lead,
  LeadUpdateResult,
  Message,
  MessagePage,
  MessageSendResult,
} from '@parley/protocol';
import { journalSize, limitFileSize } from './support/file-size-limit';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startMongoProcess, type MongoProcess } from './support/mongo-process';
import { startParley, type ParleyProcess } from './support/parley-process';
import { storedMessages } from './support/outage-database';
import {
  command,
  connectAgent,
  connectVisitor,
  ok,
  type AgentClientSocket,
  type VisitorClientSocket,
} from './support/sockets';
import { makeTempDir, removeDir } from './support/temp-dir';
import { waitFor } from './support/wait';

jest.setTimeout(120_000);

/**
 * The disk fills up under a standalone embedded-mongo in the middle of a conversation (for real:
 * its file-size limit is lowered to a byte past the journal's end, so every append is cut short).
 * Writes are refused with UNAVAILABLE (embedded-mongo answers MongoDB's OutOfDiskSpace), reads go
 * on, nothing acknowledged is lost, and once there is room writes go through again, with neither
 * the database nor the gateway restarted. A restart of the database afterwards replays exactly
 * what was acknowledged. (Always embedded-mongo, whatever MONGODB_URI says: it is its disk.)
 */
describe('the disk fills up under the database mid-conversation', () => {
  let dbPath: string;
  let mongo: MongoProcess;
  let server: ParleyProcess;
  let projectId: string;
  let agent: TestAgent;
  let visitorSocket: VisitorClientSocket;
  let agentSocket: AgentClientSocket;
  let conversationId: string;
  /** Every message an ok ack returned, by clientMessageId. */
  const acked = new Map<string, Message>();

  beforeAll(async () => {
    dbPath = makeTempDir('parley-disk-');
    mongo = await startMongoProcess(dbPath);
    server = await startParley({ env: { MONGODB_URI: `${mongo.uri}/parley` } });
    projectId = (await createProject(server.url)).project.id;
    agent = await createAgent(server.url, projectId);
    visitorSocket = await connectVisitor(server.url, (await anonymousVisitor(server.url, projectId)).token);
    agentSocket = await connectAgent(server.url, agent.token);
    conversationId = (await ok<ConversationStartResult>(visitorSocket, 'conversation:start', {})).conversation.id;
    for (const id of ['v1', 'v2']) expect(await send(visitorSocket, id)).toMatchObject({ ok: true });
    for (const id of ['a1', 'a2']) expect(await send(agentSocket, id)).toMatchObject({ ok: true });
  });

  afterAll(async () => {
    visitorSocket?.close();
    agentSocket?.close();
    if (mongo) limitFileSize(mongo.pid, 'unlimited');
    await server?.stop();
    server?.cleanup();
    await mongo?.stop();
    if (dbPath) removeDir(dbPath);
  });

  async function send(
    socket: VisitorClientSocket | AgentClientSocket,
    clientMessageId: string,
  ): Promise<AckResponse<MessageSendResult>> {
    const answer = await command<MessageSendResult>(socket, 'message:send', {
      conversationId,
      clientMessageId,
      text: clientMessageId,
    });
    if (answer.ok) acked.set(clientMessageId, answer.data.message);
    return answer;
  }

  const unavailable = { ok: false, error: { code: 'UNAVAILABLE' } };
  const contact = { fullname: 'Written by hand', email: `full-${Date.now()}@example.com` };

  it('refuses writes with UNAVAILABLE while reads go on, and takes them again once there is room, with nothing acknowledged lost', async () => {
    const mongoPid = mongo.pid;
    const serverPid = server.process.pid;
    limitFileSize(mongo.pid, journalSize(dbPath) + 1);

    // Writes: refused, each with UNAVAILABLE.
    expect(await send(visitorSocket, 'v-full')).toMatchObject(unavailable);
    expect(await send(agentSocket, 'a-full')).toMatchObject(unavailable);
    expect(await command(visitorSocket, 'lead:update', { fullname: 'Name while full' })).toMatchObject(unavailable);
    expect(await command(visitorSocket, 'conversation:start', { text: 'a new one' })).toMatchObject(unavailable);
    const created = await client(server.url).post(`/v1/projects/${projectId}/leads`, {
      token: agent.token,
      body: contact,
    });
    expect(created.status).toBe(503);
    expect(created.body).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    expect(Number(created.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(mongo.output()).toMatch(/out of space/);

    // Reads: served, showing what was acknowledged and nothing of what was refused.
    const history = await ok<ConversationHistoryResult>(visitorSocket, 'conversation:history', { conversationId });
    expect(history.messages.map((m) => m.clientMessageId)).toEqual(['v1', 'v2', 'a1', 'a2']);
    const page = await client(server.url).get<MessagePage>(
      `/v1/projects/${projectId}/conversations/${conversationId}/messages`,
      { token: agent.token },
    );
    expect(page.status).toBe(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    // Room again: the same processes take the same writes (retried with the same ids), once each.
    limitFileSize(mongo.pid, 'unlimited');
    expect(await send(visitorSocket, 'v-full')).toMatchObject({ ok: true });
    expect(await send(agentSocket, 'a-full')).toMatchObject({ ok: true });
    expect(await send(visitorSocket, 'v-after')).toMatchObject({ ok: true });
    const updated = await ok<LeadUpdateResult>(visitorSocket, 'lead:update', { fullname: 'Name after' });
    expect(updated.lead.fullname).toBe('Name after');
    const retried = await client(server.url).post<Lead>(`/v1/projects/${projectId}/leads`, {
      token: agent.token,
      body: contact,
    });
    expect(retried.status).toBe(201);
    expect([mongo.pid, server.process.pid, server.process.exitCode]).toEqual([mongoPid, serverPid, null]);
    expect(mongo.output()).toMatch(/takes writes again/);

    // The database restarted on its data (killed, so only what reached the journal counts): every
    // acknowledged write is there once, and nothing else.
    const port = mongo.port;
    await mongo.kill();
    mongo = await startMongoProcess(dbPath, { port });
    expect(mongo.output()).not.toMatch(/ignoring|damaged/);
    await waitFor('the gateway to reach the restarted database', async () => {
      return (await fetch(`${server.url}/readyz`)).status === 200;
    });
    const reader = new MongoClient(`${mongo.uri}/parley`, { serverSelectionTimeoutMS: 5000 });
    try {
      await reader.connect();
      const stored = await storedMessages(reader.db(), conversationId);
      expect(stored.map((m) => [m['seq'], m['clientMessageId']])).toEqual(
        [...acked.values()].sort((a, b) => a.seq - b.seq).map((m) => [m.seq, m.clientMessageId]),
      );
      expect(stored.map((m) => m['seq'])).toEqual(stored.map((_, i) => i + 1));
      const conversation = await reader
        .db()
        .collection('conversations')
        .findOne({ _id: conversationId as never });
      expect(conversation).toMatchObject({ lastSeq: acked.size, messageCount: acked.size });
      expect(await reader.db().collection('leads').countDocuments({ projectId, fullname: 'Name after' })).toBe(1);
      expect(await reader.db().collection('leads').countDocuments({ projectId, email: contact.email })).toBe(1);
    } finally {
      await reader.close();
    }
    // The gateway carries on with it.
    expect(await send(agentSocket, 'a-after-restart')).toMatchObject({ ok: true });
  });
});
