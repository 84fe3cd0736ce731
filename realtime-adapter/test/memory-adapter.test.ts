import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { Adapter, type BroadcastOptions } from 'socket.io-adapter';
import { io as connect, type Socket } from 'socket.io-client';
import { createMemoryAdapter, resumeSession, type Resumption } from '../src';
import { MemoryRecoveryAdapter } from '../src/memory-adapter';
import { isStreamId, compareStreamIds } from '../src/stream-id';

const WINDOW_MS = 60_000;
const to = (rooms: string[], flags: BroadcastOptions['flags'] = {}): BroadcastOptions => ({
  rooms: new Set(rooms),
  except: new Set(),
  flags,
});

/** Resolves once `check` holds, polling; fails after a few seconds. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('single-node adapter', () => {
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    jest.restoreAllMocks();
  });

  function server(): Server {
    const io = new Server({
      connectionStateRecovery: { maxDisconnectionDuration: WINDOW_MS, skipMiddlewares: false },
      adapter: createMemoryAdapter({ '/agent': { recovery: true }, '/visitor': { recovery: false } }, WINDOW_MS, 100),
    });
    // Not attached to an HTTP server (`io.close()` would fail): only the sweeper to stop.
    closers.push(() => io.of('/agent').adapter.close());
    return io;
  }

  function recovering(io: Server): MemoryRecoveryAdapter {
    const adapter = io.of('/agent').adapter;
    if (!(adapter instanceof MemoryRecoveryAdapter)) throw new Error('not the recovery adapter');
    return adapter;
  }

  it('gives the namespaces with recovery a recovery adapter, and the others the plain one', () => {
    const io = server();
    expect(io.of('/agent').adapter).toBeInstanceOf(MemoryRecoveryAdapter);
    expect(io.of('/visitor').adapter.constructor).toBe(Adapter);
    expect(io.of('/').adapter.constructor).toBe(Adapter);
  });

  it('gives recoverable packets an increasing offset in the stream id format, and keeps no others', () => {
    const adapter = recovering(server());
    const first = { type: 2, data: ['a'] };
    const second = { type: 2, data: ['b'] };
    const volatile = { type: 2, data: ['typing'] };
    const withAck = { type: 2, data: ['ack'], id: 3 };
    adapter.broadcast(first, to(['project:1']));
    adapter.broadcast(second, to(['project:1']));
    adapter.broadcast(volatile, to(['project:1'], { volatile: true }));
    adapter.broadcast(withAck, to(['project:1']));
    const [offsetA, offsetB] = [first.data[1], second.data[1]];
    expect(isStreamId(offsetA) && isStreamId(offsetB) && compareStreamIds(offsetA, offsetB) < 0).toBe(true);
    expect(volatile.data).toEqual(['typing']);
    expect(withAck.data).toEqual(['ack']);
  });

  it('restores a session without handing its packets to Socket.IO, and keeps those for its rooms', async () => {
    const adapter = recovering(server());
    const before = { type: 2, data: ['before'] };
    adapter.broadcast(before, to(['project:1']));
    adapter.persistSession({ sid: 'old', pid: 'pid', rooms: ['old', 'project:1'], data: { principal: 'me' } });
    adapter.broadcast({ type: 2, data: ['mine'] }, to(['project:1']));
    adapter.broadcast({ type: 2, data: ['theirs'] }, to(['project:2']));
    adapter.broadcast({ type: 2, data: ['typing'] }, to(['project:1'], { volatile: true }));

    const session = await adapter.restoreSession('pid', before.data[1] as string);
    expect(session).toEqual({ sid: 'old', pid: 'pid', rooms: ['old', 'project:1'], data: {}, missedPackets: [] });
    adapter.broadcast({ type: 2, data: ['meanwhile'] }, to(['project:1']));
    const state = adapter.takeRecovered('old');
    expect(state?.data).toEqual({ principal: 'me' });
    expect(state?.packets.map((packet) => packet[0])).toEqual(['mine', 'meanwhile']);
    // Once: a second restore of the same session finds nothing.
    await expect(adapter.restoreSession('pid', before.data[1] as string)).rejects.toThrow('no such session');
  });

  it('refuses unknown sessions, offsets it does not hold and offsets older than the window', async () => {
    const adapter = recovering(server());
    const kept = { type: 2, data: ['kept'] };
    adapter.broadcast(kept, to([]));
    const session = { sid: 's', pid: 'p', rooms: [], data: {} };
    await expect(adapter.restoreSession('nobody', kept.data[1] as string)).rejects.toThrow('no such session');
    adapter.persistSession(session);
    await expect(adapter.restoreSession('p', '1-0')).rejects.toThrow('offset too old');
    adapter.persistSession(session);
    await expect(adapter.restoreSession('p', `${Date.now() + 1_000}-0`)).rejects.toThrow('offset not kept');
    adapter.persistSession(session);
    const now = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(now + WINDOW_MS + 1);
    await expect(adapter.restoreSession('p', kept.data[1] as string)).rejects.toThrow('no such session');
  });

  describe('through real sockets', () => {
    async function listen(owns: () => boolean): Promise<{ io: Server; url: string; resumptions: Resumption[] }> {
      const http = createServer();
      const io = new Server(http, {
        connectionStateRecovery: { maxDisconnectionDuration: WINDOW_MS, skipMiddlewares: false },
        adapter: createMemoryAdapter({ '/agent': { recovery: true } }, WINDOW_MS, 100),
      });
      const resumptions: Resumption[] = [];
      io.of('/agent').on('connection', (socket: ServerSocket) => {
        const resumption = resumeSession(socket, owns);
        resumptions.push(resumption);
        // A recovered socket is back in its rooms already.
        if (resumption === 'fresh') void socket.join('room');
      });
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      closers.push(() => new Promise((resolve) => io.close(resolve)));
      return { io, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/agent`, resumptions };
    }

    async function client(url: string): Promise<{ socket: Socket; received: number[] }> {
      const socket = connect(url, { transports: ['websocket'], forceNew: true, reconnectionDelay: 50 });
      const received: number[] = [];
      socket.on('tick', (n: number) => received.push(n));
      closers.push(() => socket.close());
      await until(() => socket.connected, 'the connection');
      return { socket, received };
    }

    async function dropAndMiss(io: Server, socket: Socket, received: number[]): Promise<void> {
      io.of('/agent').to('room').emit('tick', 1);
      await until(() => received.length === 1, 'a first push');
      socket.io.engine.close();
      await until(() => !socket.connected, 'the drop');
      // The server notices the drop first (engine close), then the session is kept.
      await until(() => io.of('/agent').sockets.size === 0, 'the server to see the drop');
      io.of('/agent').to('room').emit('tick', 2);
    }

    it('replays what a socket missed once the namespace has accepted it as the same principal', async () => {
      const { io, url, resumptions } = await listen(() => true);
      const { socket, received } = await client(url);
      await dropAndMiss(io, socket, received);
      await until(() => socket.connected && received.length === 2, 'the replay');
      expect(socket.recovered).toBe(true);
      expect(resumptions).toEqual(['fresh', 'recovered']);
      io.of('/agent').to('room').emit('tick', 3);
      await until(() => received.length === 3, 'a live push after the replay');
      expect(received).toEqual([1, 2, 3]);
    });

    it("replays nothing to another principal's socket and takes it out of the session's rooms", async () => {
      const { io, url, resumptions } = await listen(() => false);
      const { socket, received } = await client(url);
      await dropAndMiss(io, socket, received);
      await until(() => resumptions.length === 2, 'the reconnection');
      expect(resumptions).toEqual(['fresh', 'refused']);
      const [reconnected] = [...io.of('/agent').sockets.values()];
      expect(reconnected && [...reconnected.rooms]).toEqual([reconnected?.id]);
      io.of('/agent').emit('tick', 3);
      await until(() => received.includes(3), 'a push to the whole namespace');
      expect(received).toEqual([1, 3]);
    });
  });
});
