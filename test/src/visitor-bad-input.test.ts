import type { ConversationStartResult } from '@parley/protocol';
import { anonymousVisitor, createProject } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';
import { command, connectVisitor, ok, type VisitorClientSocket } from './support/sockets';

describe('malformed visitor input', () => {
  let server: ParleyProcess;
  let socket: VisitorClientSocket;
  let conversationId: string;

  beforeAll(async () => {
    server = await startParley({ env: { MESSAGE_MAX_LENGTH: '4000' } });
    const { project } = await createProject(server.url);
    const visitor = await anonymousVisitor(server.url, project.id);
    socket = await connectVisitor(server.url, visitor.token);
    conversationId = (await ok<ConversationStartResult>(socket, 'conversation:start', {})).conversation.id;
  });
  afterAll(async () => {
    socket.close();
    await server.stop();
    server.cleanup();
  });

  const manyAttributes = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]));
  const cases: [string, string, () => unknown, string][] = [
    ['null payload', 'message:send', () => null, 'BAD_REQUEST'],
    ['a string payload', 'message:send', () => 'hello', 'BAD_REQUEST'],
    ['an array payload', 'conversation:start', () => [1, 2], 'BAD_REQUEST'],
    ['text as a number', 'message:send', () => ({ conversationId, clientMessageId: 'a', text: 42 }), 'BAD_REQUEST'],
    [
      'an operator for the conversation id',
      'message:send',
      () => ({ conversationId: { $ne: null }, clientMessageId: 'b', text: 'x' }),
      'BAD_REQUEST',
    ],
    ['an operator for the history id', 'conversation:history', () => ({ conversationId: { $gt: '' } }), 'BAD_REQUEST'],
    ['an operator for the email', 'lead:update', () => ({ email: { $ne: 'x' } }), 'BAD_REQUEST'],
    ['an email that is not one', 'lead:update', () => ({ email: 'not-an-email' }), 'BAD_REQUEST'],
    ['a fullname too long', 'lead:update', () => ({ fullname: 'x'.repeat(201) }), 'BAD_REQUEST'],
    ['too many attributes', 'lead:update', () => ({ attributes: manyAttributes }), 'BAD_REQUEST'],
    ['an attribute key starting with $', 'lead:update', () => ({ attributes: { $set: 1 } }), 'BAD_REQUEST'],
    ['an attribute key with a dot', 'lead:update', () => ({ attributes: { 'a.b': 1 } }), 'BAD_REQUEST'],
    ['an attribute value that is an object', 'lead:update', () => ({ attributes: { a: { $gt: 1 } } }), 'BAD_REQUEST'],
    ['an attribute value too long', 'lead:update', () => ({ attributes: { a: 'x'.repeat(1001) } }), 'BAD_REQUEST'],
    ['an empty form', 'lead:update', () => ({}), 'BAD_REQUEST'],
    [
      'an unknown field',
      'message:send',
      () => ({ conversationId, clientMessageId: 'c', text: 'x', priority: 'high' }),
      'BAD_REQUEST',
    ],
    ['an unknown field in start', 'conversation:start', () => ({ leadId: 'someone-else' }), 'BAD_REQUEST'],
    ['empty text', 'message:send', () => ({ conversationId, clientMessageId: 'd', text: '   ' }), 'BAD_REQUEST'],
    [
      'text over the limit',
      'message:send',
      () => ({ conversationId, clientMessageId: 'e', text: 'x'.repeat(4001) }),
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'text over the hard cap',
      'message:send',
      () => ({ conversationId, clientMessageId: 'f', text: 'x'.repeat(16001) }),
      'PAYLOAD_TOO_LARGE',
    ],
    ['a negative afterSeq', 'conversation:history', () => ({ conversationId, afterSeq: -1 }), 'BAD_REQUEST'],
    ['a huge page', 'conversation:history', () => ({ conversationId, limit: 10_000 }), 'BAD_REQUEST'],
    ['typing without a boolean', 'typing', () => ({ conversationId, typing: 'yes' }), 'BAD_REQUEST'],
    [
      'an unknown conversation',
      'message:send',
      () => ({ conversationId: 'ffffffffffffffffffffffff', clientMessageId: 'g', text: 'x' }),
      'NOT_FOUND',
    ],
  ];

  it.each(cases)('%s → %s', async (_name, name, payload, code) => {
    const res = await command(socket, name, payload());
    expect(res).toMatchObject({ ok: false, error: { code, message: expect.any(String) } });
    if (code === 'BAD_REQUEST' && !res.ok) expect(res.error.details?.fields?.length).toBeGreaterThan(0);
  });

  it('keeps the socket and the process healthy afterwards', async () => {
    // Commands without an ack, an unknown event, and garbage arguments must not break anything.
    (socket.emit as (...args: unknown[]) => void)('message:send', {
      conversationId,
      clientMessageId: 'no-ack',
      text: 'fire and forget',
    });
    (socket.emit as (...args: unknown[]) => void)('no-such-command', { a: 1 });
    (socket.emit as (...args: unknown[]) => void)('message:send');
    const sent = await ok(socket, 'message:send', { conversationId, clientMessageId: 'after', text: 'still here' });
    expect(sent).toMatchObject({ message: { text: 'still here' } });
    expect((await client(server.url).get('/healthz')).status).toBe(200);
    expect(socket.connected).toBe(true);
  });

  it('drops a frame over the 64 KB cap without taking the server down', async () => {
    const visitor = await anonymousVisitor(server.url, (await createProject(server.url)).project.id);
    const big = await connectVisitor(server.url, visitor.token);
    const closed = new Promise<string>((resolve) => big.once('disconnect', resolve));
    (big.emit as (...args: unknown[]) => void)('message:send', {
      conversationId,
      clientMessageId: 'big',
      text: 'x'.repeat(70_000),
    });
    expect(await closed).toMatch(/transport (close|error)/);
    expect((await client(server.url).get('/healthz')).status).toBe(200);
    expect(socket.connected).toBe(true);
  });
});
