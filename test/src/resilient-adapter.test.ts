import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { createResilientAdapter } from '@parley/server/dist/realtime/resilient-adapter';
import type { Logger } from '@parley/server/dist/infra/logger';
import { startRedis, type RedisProcess } from './support/redis-process';

const STREAM = 'test:resilient';
const quiet = { warn: () => undefined, error: () => undefined } as unknown as Logger;

/**
 * The adapter wrapper on its own, between two Socket.IO servers in this process and a real Redis:
 * the cases that are hard to bring about with whole gateway processes.
 */
describe('resilient Redis streams adapter', () => {
  let redis: RedisProcess;
  const closers: (() => unknown)[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  afterAll(() => redis.stop());

  async function node(): Promise<{ io: Server; url: string }> {
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    const http: HttpServer = createServer();
    const io = new Server(http, {
      adapter: createResilientAdapter(client, { streamName: STREAM, maxLen: 1000, blockTimeInMs: 200 }, quiet),
    });
    io.on('connection', (socket) => void socket.join('room'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    closers.push(async () => {
      io.close();
      client.disconnect();
      // The adapter's stream reader disconnects once its blocking XREAD returns.
      await new Promise((r) => setTimeout(r, 300));
    });
    return { io, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
  }

  async function listener(url: string): Promise<{ socket: Socket; received: number[] }> {
    const socket = connect(url, { transports: ['websocket'], forceNew: true });
    const received: number[] = [];
    socket.on('tick', (n: number) => received.push(n));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    closers.push(() => socket.close());
    return { socket, received };
  }

  const until = async (check: () => boolean, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  test('a broadcast that Redis receives twice (a command re-sent after a dropped connection) is delivered once', async () => {
    const [a, b] = [await node(), await node()];
    const { received } = await listener(b.url);
    // Both adapters read the stream from its end: give B's reader a moment to be in place.
    await new Promise((r) => setTimeout(r, 300));

    a.io.to('room').emit('tick', 1);
    a.io.to('room').emit('tick', 2);
    await until(() => received.length === 2, 'the first two broadcasts');

    // What ioredis does when it re-sends an XADD whose reply it never saw: the same entry again.
    const inspector = new Redis(redis.url);
    closers.push(() => inspector.disconnect());
    const entries = (await inspector.xrange(STREAM, '-', '+')) as [string, string[]][];
    const [, fields] = entries[entries.length - 1] as [string, string[]];
    await inspector.xadd(STREAM, '*', ...fields);

    a.io.to('room').emit('tick', 3);
    await until(() => received.includes(3), 'the third broadcast');
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toEqual([1, 2, 3]);
  });

  test('with Redis gone, a broadcast still reaches this node at once and the other node when Redis returns', async () => {
    const [a, b] = [await node(), await node()];
    const local = await listener(a.url);
    const remote = await listener(b.url);
    await new Promise((r) => setTimeout(r, 300));
    // Traffic before the outage, as on any live node. (A reader that has never seen an entry reads
    // from "$", and could miss what is re-sent ahead of its own XREAD after a restart.)
    a.io.to('room').emit('tick', 1);
    await until(() => remote.received.length === 1, 'a broadcast before the outage');

    await redis.kill();
    a.io.to('room').emit('tick', 2);
    a.io.to('room').emit('tick', 3);
    await until(() => local.received.length === 3, 'same-node delivery during the outage');
    expect(remote.received).toEqual([1]);

    await redis.restart();
    await until(() => remote.received.length === 3, 'the queued broadcasts to reach the other node');
    a.io.to('room').emit('tick', 4);
    await until(() => remote.received.length === 4, 'a broadcast after the outage');
    await new Promise((r) => setTimeout(r, 300));
    expect(remote.received).toEqual([1, 2, 3, 4]);
    expect(local.received).toEqual([1, 2, 3, 4]);
  }, 30_000);
});
