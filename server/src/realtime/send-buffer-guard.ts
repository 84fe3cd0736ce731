import type { Socket as NetSocket } from 'node:net';
import type { Server, Socket } from 'socket.io';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';

/** What the guard reads of an engine.io connection (`socket.conn`). */
type Connection = Socket['conn'];

interface Packet {
  data?: unknown;
}

/**
 * One connection's account, kept only while it counts something (see `settle`): an idle connection
 * has none.
 */
interface Account {
  /** Bytes of the packets in engine.io's write buffer (not yet handed to the transport). */
  queued: number;
  /** Connections of HTTP long-polling responses, which hold what they could not send yet. */
  responses: Set<NetSocket> | undefined;
  /** What may wait before the connection is closed: the limit, or more after a recovery replay. */
  allowance: number;
  /** Inside a recovery replay: counted, never refused. */
  replaying: boolean;
}

export interface SendBufferGuardOptions {
  /** Bytes that may wait for one connection before it is closed. */
  limitBytes: number;
  logger: Logger;
  metrics: Metrics;
}

/**
 * Bounds what the server holds for a client that does not read (a stalled network, a tab frozen
 * in the background, or someone asking for history and never taking the answers).
 *
 * Socket.IO never refuses to send: while a WebSocket's TCP connection is full, its frames wait in
 * the `ws` socket (`bufferedAmount`) and every later packet in engine.io's write buffer, in memory,
 * until the client reads or the ping timeout (up to 45 s) closes the connection. A busy project can
 * push megabytes a second to an agent console; a visitor can ask for a 200-message history page
 * many times a second. Here each outgoing packet first looks at what already waits for its
 * connection (see `waiting`): over the limit, the connection is closed at once and its buffers
 * freed, instead of the packet joining them. So one connection never holds more than the limit
 * plus what the server sent it in one go (one burst of pushes, one history page).
 *
 * The client reconnects as after any cut: an agent console recovers what it missed (the close is
 * a recoverable one), a visitor catches up by `seq`. A recovery replay may be larger than the
 * limit by itself (the adapter bounds it), so it is exempt, and the connection may hold it until
 * it has read it down below the limit.
 */
export class SendBufferGuard {
  private readonly accounts = new WeakMap<Connection, Account>();
  /** The most one connection had waiting, since the start: the bound made visible. */
  private peak = 0;
  /**
   * The same two listeners on every connection (`this` is the connection) rather than closures per
   * connection: a node holds many idle ones, and an idle one then costs two listener slots.
   */
  private readonly onPacketCreate: (this: Connection, packet: Packet) => void;
  private readonly onFlush: (this: Connection) => void;

  constructor(private readonly options: SendBufferGuardOptions) {
    options.metrics.socketSendBufferPeak.set(0);
    const created = (conn: Connection, packet: Packet) => this.packetCreated(conn, packet);
    const flushed = (conn: Connection) => this.flushed(conn);
    this.onPacketCreate = function (this: Connection, packet: Packet) {
      created(this, packet);
    };
    this.onFlush = function (this: Connection) {
      flushed(this);
    };
  }

  attach(io: Server): void {
    io.engine.on('connection', (conn: Connection) => {
      conn.on('packetCreate', this.onPacketCreate);
      // The write buffer goes to the transport whole: its bytes are now the transport's to hold.
      conn.on('flush', this.onFlush);
    });
  }

  /**
   * Runs `replay` (a recovered session's missed packets, written at once) without refusing any of
   * them; afterwards the connection may hold what it then has waiting, until it reads it.
   */
  whileReplaying<T>(conn: Connection, replay: () => T): T {
    const account = this.account(conn);
    account.replaying = true;
    try {
      return replay();
    } finally {
      account.replaying = false;
      account.allowance = Math.max(this.options.limitBytes, this.waiting(conn, account));
      this.settle(conn, account);
    }
  }

  private packetCreated(conn: Connection, packet: Packet): void {
    const { limitBytes, metrics } = this.options;
    const account = this.accounts.get(conn);
    const waiting = this.waiting(conn, account);
    if (waiting > this.peak) {
      this.peak = waiting;
      metrics.socketSendBufferPeak.set(waiting);
    }
    if (!account?.replaying && waiting > (account?.allowance ?? limitBytes)) {
      this.drop(conn, waiting);
      return;
    }
    if (account && waiting <= limitBytes) account.allowance = limitBytes;
    (account ?? this.account(conn)).queued += sizeOf(packet);
  }

  private flushed(conn: Connection): void {
    const response = pollingResponse(conn);
    const account = response ? this.account(conn) : this.accounts.get(conn);
    if (!account) return;
    account.queued = 0;
    if (response) (account.responses ??= new Set()).add(response);
    this.settle(conn, account);
  }

  /** The connection's account, opened with nothing counted if it has none. */
  private account(conn: Connection): Account {
    let account = this.accounts.get(conn);
    if (!account) {
      account = { queued: 0, responses: undefined, allowance: this.options.limitBytes, replaying: false };
      this.accounts.set(conn, account);
    }
    return account;
  }

  /** Closes an account that counts nothing any more: the next packet opens a new one. */
  private settle(conn: Connection, account: Account): void {
    if (
      account.queued === 0 &&
      !account.replaying &&
      account.allowance <= this.options.limitBytes &&
      (account.responses === undefined || account.responses.size === 0)
    ) {
      this.accounts.delete(conn);
    }
  }

  /**
   * What waits for the client: what its transport holds (the WebSocket's unsent bytes, the
   * long-polling responses' unsent bytes) and, once the transport is behind, engine.io's write
   * buffer too. While the transport holds nothing, the write buffer is only the current burst: the
   * packets emitted in one go wait there for the next tick however fast the client reads. With
   * long-polling the write buffer is where packets wait for the client's next request, so it
   * always counts.
   */
  private waiting(conn: Connection, account: Account | undefined): number {
    let held = 0;
    const transport = conn.transport as unknown as { name: string; socket?: { bufferedAmount?: number } };
    if (transport.name === 'websocket') held += transport.socket?.bufferedAmount ?? 0;
    for (const socket of account?.responses ?? []) {
      if (socket.destroyed || socket.writableLength === 0) account?.responses?.delete(socket);
      else held += socket.writableLength;
    }
    const queued = account?.queued ?? 0;
    return held > 0 || transport.name === 'polling' ? held + queued : 0;
  }

  /**
   * Closes the connection now. A plain close would wait for the write buffer to drain (never, here)
   * and the WebSocket's closing handshake keeps its buffer for 30 s: the transport is discarded,
   * and the WebSocket's TCP connection destroyed, which frees both at once.
   */
  private drop(conn: Connection, waiting: number): void {
    const { logger, metrics, limitBytes } = this.options;
    metrics.slowConsumerDisconnects.inc();
    logger.warn({ waiting, limit: limitBytes, transport: conn.transport.name }, 'slow consumer disconnected');
    const transport = conn.transport as unknown as { name: string; socket?: { terminate?: () => void } };
    const ws = transport.name === 'websocket' ? transport.socket : undefined;
    const account = this.accounts.get(conn);
    for (const socket of account?.responses ?? []) socket.destroy();
    account?.responses?.clear();
    conn.close(true);
    ws?.terminate?.();
  }
}

function sizeOf(packet: Packet): number {
  const { data } = packet;
  // One byte for the packet type; string payloads are sent as UTF-8.
  if (typeof data === 'string') return 1 + Buffer.byteLength(data);
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return 1 + data.byteLength;
  return 1;
}

/** The TCP connection a long-polling transport answers its pending request on, if any. */
function pollingResponse(conn: Connection): NetSocket | undefined {
  const transport = conn.transport as unknown as { name: string; req?: { socket?: NetSocket } };
  return transport.name === 'polling' ? transport.req?.socket : undefined;
}
