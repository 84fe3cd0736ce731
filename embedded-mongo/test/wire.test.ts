import net from 'node:net';
import { deserialize, serialize, type Document } from 'bson';
import { MongoClient } from 'mongodb';
import { harness, type Harness } from './support';

/** Raw frames over a socket, for what the driver never sends. */
function opMsg(
  requestId: number,
  body: Document,
  options: { flags?: number; sequences?: [string, Document[]][]; checksum?: boolean } = {},
): Buffer {
  const sections: Buffer[] = [Buffer.from([0]), Buffer.from(serialize(body))];
  for (const [id, docs] of options.sequences ?? []) {
    const payload = Buffer.concat([Buffer.from(`${id}\0`), ...docs.map((d) => Buffer.from(serialize(d)))]);
    const size = Buffer.alloc(4);
    size.writeInt32LE(payload.length + 4);
    sections.push(Buffer.from([1]), size, payload);
  }
  const flags = Buffer.alloc(4);
  flags.writeUInt32LE((options.flags ?? 0) | (options.checksum ? 1 : 0));
  const checksum = options.checksum ? Buffer.alloc(4, 0xab) : Buffer.alloc(0);
  const bodyBytes = Buffer.concat([flags, ...sections, checksum]);
  const header = Buffer.alloc(16);
  header.writeInt32LE(16 + bodyBytes.length, 0);
  header.writeInt32LE(requestId, 4);
  header.writeInt32LE(0, 8);
  header.writeInt32LE(2013, 12);
  return Buffer.concat([header, bodyBytes]);
}

function opQuery(requestId: number, ns: string, query: Document): Buffer {
  const body = Buffer.concat([
    Buffer.alloc(4),
    Buffer.from(`${ns}\0`),
    Buffer.from([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
    Buffer.from(serialize(query)),
  ]);
  const header = Buffer.alloc(16);
  header.writeInt32LE(16 + body.length, 0);
  header.writeInt32LE(requestId, 4);
  header.writeInt32LE(2004, 12);
  return Buffer.concat([header, body]);
}

interface Reply {
  responseTo: number;
  opCode: number;
  body: Document;
}

/** A connection that collects replies. */
class RawClient {
  private readonly socket: net.Socket;
  private buffer = Buffer.alloc(0);
  private readonly replies: Reply[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 4 && this.buffer.length >= this.buffer.readInt32LE(0)) {
        const length = this.buffer.readInt32LE(0);
        const message = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        const opCode = message.readInt32LE(12);
        const docAt = opCode === 1 ? 36 : 21;
        this.replies.push({ responseTo: message.readInt32LE(8), opCode, body: deserialize(message.subarray(docAt)) });
      }
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => undefined);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  connected(): Promise<void> {
    return new Promise((resolve) =>
      this.socket.connecting ? this.socket.once('connect', () => resolve()) : resolve(),
    );
  }

  write(data: Buffer): void {
    this.socket.write(data);
  }

  async replyCount(n: number, timeoutMs = 3000): Promise<Reply[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < n && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.replies.slice();
  }

  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

describe('the wire protocol', () => {
  let h: Harness;
  const clients: RawClient[] = [];
  const client = async () => {
    const c = new RawClient(h.server.port);
    clients.push(c);
    await c.connected();
    return c;
  };
  beforeAll(async () => {
    h = await harness();
  });
  afterEach(() => clients.splice(0).forEach((c) => c.destroy()));
  afterAll(async () => h.close());

  it('answers a legacy OP_QUERY handshake with OP_REPLY', async () => {
    const c = await client();
    c.write(opQuery(7, 'admin.$cmd', { isMaster: 1, helloOk: true }));
    const [reply] = await c.replyCount(1);
    expect(reply).toMatchObject({ responseTo: 7, opCode: 1 });
    expect(reply?.body).toMatchObject({ ismaster: true, helloOk: true, maxWireVersion: 21, ok: 1 });
    expect(reply?.body['topologyVersion']).toBeUndefined();
    expect(reply?.body['compression']).toBeUndefined();
    c.write(opQuery(8, 'test.things', { find: 'things' }));
    const replies = await c.replyCount(2);
    expect(replies[1]?.body).toMatchObject({ ok: 0, code: 352 });
  });

  it('handles frames split byte by byte and several messages in one chunk', async () => {
    const c = await client();
    const frame = opMsg(1, { ping: 1, $db: 'admin' });
    for (const byte of frame) c.write(Buffer.from([byte]));
    expect((await c.replyCount(1))[0]).toMatchObject({ responseTo: 1, body: { ok: 1 } });
    c.write(
      Buffer.concat([
        opMsg(2, { ping: 1, $db: 'admin' }),
        opMsg(3, { buildInfo: 1, $db: 'admin' }),
        opMsg(4, { ping: 1, $db: 'admin' }).subarray(0, 10),
      ]),
    );
    const replies = await c.replyCount(3);
    expect(replies.map((r) => r.responseTo)).toEqual([1, 2, 3]);
    expect(replies[2]?.body).toMatchObject({ version: '7.0.0', ok: 1 });
    c.write(opMsg(4, { ping: 1, $db: 'admin' }).subarray(10));
    expect((await c.replyCount(4)).map((r) => r.responseTo)).toEqual([1, 2, 3, 4]);
  });

  it('reads kind-1 document sequences, skips checksums, and honours moreToCome', async () => {
    const c = await client();
    c.write(
      opMsg(
        10,
        { insert: 'wire', $db: 'test' },
        {
          sequences: [
            [
              'documents',
              [
                { _id: 1, a: 1 },
                { _id: 2, a: 2 },
              ],
            ],
          ],
          checksum: true,
        },
      ),
    );
    expect((await c.replyCount(1))[0]?.body).toMatchObject({ n: 2, ok: 1 });
    // moreToCome (w:0): applied, never answered.
    c.write(opMsg(11, { insert: 'wire', $db: 'test' }, { flags: 2, sequences: [['documents', [{ _id: 3 }]]] }));
    c.write(opMsg(12, { count: 'wire', $db: 'test' }));
    const replies = await c.replyCount(2);
    expect(replies.map((r) => r.responseTo)).toEqual([10, 12]);
    expect(replies[1]?.body).toMatchObject({ n: 3 });
  });

  it('applies unacknowledged (w: 0) writes from the driver', async () => {
    // One connection, so the count is read after the unanswered inserts.
    const single = new MongoClient(`${h.server.uri}/test`, { maxPoolSize: 1 });
    try {
      const coll = single.db().collection('w0', { writeConcern: { w: 0 } });
      await coll.insertOne({ x: 1 });
      await coll.insertOne({ x: 2 });
      expect(await single.db().collection('w0').countDocuments()).toBe(2);
    } finally {
      await single.close();
    }
  });

  it('closes only the connection that sent something unreadable, and says why', async () => {
    const logged: string[] = [];
    const own = await harness({ log: (m) => logged.push(m) });
    try {
      const send = async (data: Buffer) => {
        const c = new RawClient(own.server.port);
        clients.push(c);
        await c.connected();
        c.write(data);
        return c.waitClosed();
      };
      const unknownOp = Buffer.alloc(32, 0xff);
      unknownOp.writeInt32LE(32, 0);
      unknownOp.writeInt32LE(9999, 12);
      expect(await send(unknownOp)).toBe(true);
      const compressed = Buffer.alloc(32);
      compressed.writeInt32LE(32, 0);
      compressed.writeInt32LE(2012, 12);
      expect(await send(compressed)).toBe(true);
      const huge = Buffer.alloc(16);
      huge.writeInt32LE(49_000_000, 0);
      expect(await send(huge)).toBe(true);
      const badBson = opMsg(1, { ping: 1, $db: 'admin' });
      badBson.writeInt32LE(9999, 21); // the body's own length now lies
      expect(await send(badBson)).toBe(true);
      const unknownFlag = opMsg(1, { ping: 1, $db: 'admin' }, { flags: 1 << 5 });
      expect(await send(unknownFlag)).toBe(true);
      expect(logged.join('\n')).toMatch(/unsupported opCode 9999/);
      expect(logged.join('\n')).toMatch(/OP_COMPRESSED/);
      expect(logged.join('\n')).toMatch(/invalid message length/);
      // The server and its other clients carry on.
      await own.db.collection('alive').insertOne({ ok: true });
      expect(await own.db.collection('alive').countDocuments()).toBe(1);
    } finally {
      await own.close();
    }
  });

  it('answers a command that needs no database name with an error, not a dropped connection', async () => {
    const c = await client();
    c.write(opMsg(5, { ping: 1 }));
    expect((await c.replyCount(1))[0]?.body).toMatchObject({ ok: 0, code: 40571 });
  });
});
