import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';

/**
 * The baseline: the least a Socket.IO chat relay can do, on the same stack. It speaks the parts of
 * Parley's protocol the bench uses (`/visitor` with `conversation:start` and `message:send`,
 * `/agent` listening to its project's room), acknowledges each message at once and relays it to the
 * project's agents and the visitor's own room, exactly the fan-out Parley does, but with no auth,
 * no validation and no storage. What Parley costs beyond this is the price of being a product.
 */
const httpServer = createServer((_req, res) => {
  res.writeHead(404).end();
});
const io = new Server(httpServer, { serveClient: false, cors: { origin: true } });

interface Auth {
  token?: string;
  projectId?: string;
}

const auth = (socket: Socket): Required<Auth> => {
  const given = socket.handshake.auth as Auth;
  return { token: given.token ?? socket.id, projectId: given.projectId ?? 'default' };
};

/** The baseline still numbers messages per conversation (a counter in memory, nothing more). */
const seqs = new Map<string, number>();

io.of('/agent').on('connection', (socket) => {
  void socket.join(`project:${auth(socket).projectId}`);
});

io.of('/visitor').on('connection', (socket) => {
  const { token: userId, projectId } = auth(socket);
  const userRoom = `user:${projectId}:${userId}`;
  void socket.join(userRoom);

  socket.on('conversation:start', (_payload: unknown, ack?: (reply: unknown) => void) => {
    const id = randomUUID();
    seqs.set(id, 0);
    ack?.({ ok: true, data: { conversation: { id, projectId, userId, status: 'open' } } });
  });

  socket.on(
    'message:send',
    (payload: { conversationId: string; clientMessageId: string; text: string }, ack?: (reply: unknown) => void) => {
      const seq = (seqs.get(payload.conversationId) ?? 0) + 1;
      seqs.set(payload.conversationId, seq);
      const message = {
        id: randomUUID(),
        conversationId: payload.conversationId,
        projectId,
        seq,
        clientMessageId: payload.clientMessageId,
        sender: { id: userId, role: 'visitor' },
        text: payload.text,
        createdAt: new Date().toISOString(),
      };
      ack?.({ ok: true, data: { message } });
      io.of('/agent').to(`project:${projectId}`).emit('message.created', { message });
      io.of('/visitor').to(userRoom).emit('message.created', { message });
    },
  );
});

httpServer.listen(0, '127.0.0.1', () => {
  const { port } = httpServer.address() as AddressInfo;
  process.stdout.write(`baseline listening on http://127.0.0.1:${port}\n`);
});

process.on('SIGTERM', () => {
  void io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
