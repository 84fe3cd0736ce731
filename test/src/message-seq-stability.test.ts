import { startEmbeddedMongo, type EmbeddedMongo } from '@parley/embedded-mongo';
import type { ConversationStartResult, MessagePage, MessageSendResult } from '@parley/protocol';
import { anonymousVisitor, createAgent, createProject } from './support/fixtures';
import { client } from './support/http';
import { startMongoWireProxy, type MongoWireProxy } from './support/mongo-wire-proxy';
import { startParley, type ParleyProcess } from './support/parley-process';
import { connectVisitor, ok, type VisitorClientSocket } from './support/sockets';

/**
 * A message, once anyone can read it, keeps its seq. Clients merge history pages, catch-ups and
 * live events by seq, so a message that moves (read at one seq, then stored at another) is held
 * twice by a client that read it early, and the message that takes its old seq is never shown.
 * The database's reply to the writer's batch insert is held back here, which opens the window
 * between "stored" and "the writer knows": a reader that comes then must see nothing that moves.
 * (Always on embedded-mongo: the test sits on the wire between the server and its database.)
 */
describe('a message keeps the seq it was first readable at', () => {
  let mongo: EmbeddedMongo;
  let wire: MongoWireProxy;
  let server: ParleyProcess;
  let projectId: string;
  let agentToken: string;
  const sockets: VisitorClientSocket[] = [];

  beforeAll(async () => {
    mongo = await startEmbeddedMongo();
    wire = await startMongoWireProxy(mongo.port);
    server = await startParley({ env: { MONGODB_URI: `${wire.uri}/parley` } });
    projectId = (await createProject(server.url)).project.id;
    agentToken = (await createAgent(server.url, projectId)).token;
  });
  afterAll(async () => {
    sockets.splice(0).forEach((s) => s.close());
    await server?.stop();
    server?.cleanup();
    await wire?.close();
    await mongo?.stop();
  });

  const history = async (conversationId: string) => {
    const res = await client(server.url).get<MessagePage>(
      `/v1/projects/${projectId}/conversations/${conversationId}/messages?afterSeq=0&limit=200`,
      { token: agentToken },
    );
    expect(res.status).toBe(200);
    return res.body.items.map((m) => `${m.seq} ${m.clientMessageId}`);
  };

  it('when a retry of a stored message and new ones are written in one batch', async () => {
    const visitor = await anonymousVisitor(server.url, projectId);
    const socket = await connectVisitor(server.url, visitor.token);
    sockets.push(socket);
    const { conversation } = await ok<ConversationStartResult>(socket, 'conversation:start', {});
    const conversationId = conversation.id;
    const send = (clientMessageId: string) =>
      ok<MessageSendResult>(socket, 'message:send', { conversationId, clientMessageId, text: clientMessageId });
    await send('r1');

    // The retry of r1 (its ack was lost) arrives with two new messages: one batch, whose insert
    // fails for the retry. The reply to that insert is held: a client catching up now reads this.
    const batchInsert = wire.holdReplyTo((m) => m.includes('\x02insert\x00') && m.includes('r3\x00'));
    const acks = Promise.all([send('r1'), send('r2'), send('r3')]);
    await batchInsert.held;
    const readEarly = await history(conversationId);
    batchInsert.release();
    const [retry, r2, r3] = await acks;

    const stored = await history(conversationId);
    expect(stored).toEqual(['1 r1', '2 r2', '3 r3']);
    expect([retry.message.seq, r2.message.seq, r3.message.seq]).toEqual([1, 2, 3]);
    // Whatever the early reader saw is still there, at the same seq.
    expect(readEarly.filter((m) => !stored.includes(m))).toEqual([]);
  });
});
