import net, { type AddressInfo } from 'node:net';

/**
 * A TCP proxy in front of a MongoDB (or embedded-mongo) server that understands just enough of the
 * wire protocol (each message starts with its length, its requestID and the requestID it answers)
 * to hold back the database's reply to one chosen command. While the reply is held, the command
 * has taken effect in the database but the server under test does not know it yet: the window a
 * crash, a slow network or another reader can fall into, opened on demand so a test can force
 * the interleaving instead of waiting for chaos to find it.
 */
export interface MongoWireProxy {
  /** `mongodb://127.0.0.1:<proxy port>`, without a database name. */
  uri: string;
  /**
   * Holds the reply to the next command whose raw message `matches`. `held` resolves once such a
   * reply arrived (the command was executed); `release` sends it (and anything queued behind it) on.
   */
  holdReplyTo(matches: (message: Buffer) => boolean): { held: Promise<void>; release(): void };
  close(): Promise<void>;
}

interface Hold {
  matches: (message: Buffer) => boolean;
  requestId?: number;
  onHeld: () => void;
  released: boolean;
  waiters: (() => void)[];
}

/** Splits a byte stream into whole wire messages (int32 little-endian length first). */
function framer(onMessage: (message: Buffer) => void): (chunk: Buffer) => void {
  let buffered = Buffer.alloc(0);
  return (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const length = buffered.readInt32LE(0);
      if (buffered.length < length) return;
      onMessage(buffered.subarray(0, length));
      buffered = buffered.subarray(length);
    }
  };
}

export async function startMongoWireProxy(targetPort: number, host = '127.0.0.1'): Promise<MongoWireProxy> {
  const holds: Hold[] = [];
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port: targetPort });
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', () => {
        sockets.delete(s);
        end();
      });
    }
    /** Replies wait behind a held one, so the connection keeps its order. */
    let gate: Promise<void> = Promise.resolve();

    client.on(
      'data',
      framer((message) => {
        const hold = holds.find((h) => h.requestId === undefined && h.matches(message));
        if (hold) hold.requestId = message.readInt32LE(4);
        upstream.write(message);
      }),
    );
    upstream.on(
      'data',
      framer((message) => {
        const responseTo = message.readInt32LE(8);
        const hold = holds.find((h) => h.requestId === responseTo);
        if (hold) {
          holds.splice(holds.indexOf(hold), 1);
          hold.onHeld();
          const released = new Promise<void>((resolve) => (hold.released ? resolve() : hold.waiters.push(resolve)));
          gate = gate.then(() => released);
        }
        const copy = Buffer.from(message);
        void gate.then(() => client.write(copy));
      }),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    uri: `mongodb://${host}:${port}`,
    holdReplyTo(matches) {
      let onHeld!: () => void;
      const held = new Promise<void>((resolve) => (onHeld = resolve));
      const hold: Hold = { matches, onHeld, released: false, waiters: [] };
      holds.push(hold);
      return {
        held,
        release() {
          hold.released = true;
          hold.waiters.splice(0).forEach((w) => w());
        },
      };
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
