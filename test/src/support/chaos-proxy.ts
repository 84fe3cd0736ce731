import net, { type AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * A TCP proxy in front of a Parley server (or of its database), for network-chaos tests. Clients
 * talk to the proxy's URL; the test cuts every live connection whenever it likes (the server's
 * side is reset, the client's side closed, exactly what a dropped route or a crashed load balancer
 * looks like) and can point the proxy at another port, so a server restarted on a fresh port keeps
 * the same URL for the clients.
 */
export interface ChaosProxy {
  /** `http://127.0.0.1:<proxy port>`: give this to the clients. */
  url: string;
  port: number;
  /** Connections currently open through the proxy. */
  readonly openConnections: number;
  /** How many connections have been cut so far. */
  readonly cutCount: number;
  /** Resets every open connection on the server's side and closes the client's side. */
  cutAll(): number;
  /** New connections go to this port from now on (live ones are cut, they point at the old one). */
  retarget(port: number): void;
  /** The server becomes unreachable: live connections are cut and new ones closed at once. */
  refuse(): void;
  /**
   * Every connection, live and new, becomes a black hole (accepted, nothing goes through either
   * way, nothing is closed): a server that hangs, or a network that silently stopped.
   */
  stallAll(): void;
  /** Connections go through again; those stalled by `stallAll` are cut (their bytes were lost). */
  resume(): void;
  /** How many connections were closed at once while refusing: proof that clients kept trying. */
  readonly refusedCount: number;
  /**
   * Drops the next chunk the server sends (on any connection) whose text matches: a lost ack or
   * a lost event, on a connection that otherwise carries on. Resolves once one was dropped.
   */
  dropNextFromServer(matches: (text: string) => boolean): Promise<void>;
  /**
   * Live WebSocket connections become black holes (nothing goes through either way, nothing is
   * closed), as on a network that silently stopped; new connections, and HTTP ones, work.
   */
  stallWebSockets(): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  stalled: boolean;
  websocket: boolean;
}

/** Passes chunks through unless `drop` says otherwise. */
function gate(drop: (chunk: Buffer) => boolean): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      done(null, drop(chunk) ? undefined : chunk);
    },
  });
}

export async function startChaosProxy(targetPort: number, host = '127.0.0.1'): Promise<ChaosProxy> {
  let target = targetPort;
  let cuts = 0;
  let refusing = false;
  let stallingAll = false;
  let refused = 0;
  const pairs = new Set<Pair>();
  const droppers: { matches: (text: string) => boolean; dropped: () => void }[] = [];

  const server = net.createServer((client) => {
    if (refusing) {
      refused++;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host, port: target });
    const pair: Pair = { client, upstream, stalled: stallingAll, websocket: false };
    pairs.add(pair);
    // Either side ending or failing ends both: a proxy never keeps half a connection alive.
    const drop = () => {
      if (!pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client
      .pipe(
        gate((chunk) => {
          if (/^upgrade: websocket/im.test(chunk.toString('latin1'))) pair.websocket = true;
          return pair.stalled;
        }),
      )
      .pipe(upstream);
    upstream
      .pipe(
        gate((chunk) => {
          if (pair.stalled) return true;
          const index = droppers.findIndex((d) => d.matches(chunk.toString('latin1')));
          if (index < 0) return false;
          droppers.splice(index, 1)[0]?.dropped();
          return true;
        }),
      )
      .pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const cutAll = (): number => {
    const live = [...pairs];
    for (const pair of live) {
      pairs.delete(pair);
      // The server's side gets a RST (no goodbye), the client's side is simply closed.
      pair.upstream.resetAndDestroy();
      pair.client.destroy();
    }
    cuts += live.length;
    return live.length;
  };

  return {
    url: `http://${host}:${port}`,
    port,
    get openConnections() {
      return pairs.size;
    },
    get cutCount() {
      return cuts;
    },
    cutAll,
    retarget(newPort) {
      target = newPort;
      cutAll();
    },
    refuse() {
      refusing = true;
      cutAll();
    },
    stallAll() {
      stallingAll = true;
      for (const pair of pairs) pair.stalled = true;
    },
    resume() {
      refusing = false;
      stallingAll = false;
      for (const pair of [...pairs]) {
        if (!pair.stalled) continue;
        pairs.delete(pair);
        pair.upstream.resetAndDestroy();
        pair.client.destroy();
        cuts++;
      }
    },
    get refusedCount() {
      return refused;
    },
    dropNextFromServer(matches) {
      return new Promise<void>((dropped) => droppers.push({ matches, dropped }));
    },
    stallWebSockets() {
      for (const pair of pairs) if (pair.websocket) pair.stalled = true;
    },
    close() {
      cutAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
