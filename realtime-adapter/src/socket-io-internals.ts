/**
 * SOCKET.IO INTERNALS. Everything this package assumes about socket.io and socket.io-adapter
 * beyond their documented API is here, and only here, so that an upgrade is checked in one file
 * (written against socket.io 4.8 and socket.io-adapter 2.5). Every `as unknown as` of the package
 * is in this file too: each stands where socket.io's types and what it does at run time part ways.
 */
import type { Namespace, ServerOptions, Socket } from 'socket.io';
import {
  Adapter,
  type BroadcastOptions,
  type ClusterMessage,
  type ClusterResponse,
  type Session,
} from 'socket.io-adapter';

/** socket.io-parser's `PacketType.EVENT` (socket.io-parser is not a dependency of ours). */
export const EVENT_PACKET = 2;

/** A Socket.IO packet as adapters see it: `data` is `[event, ...args]` for an event. */
export interface BroadcastPacket {
  type: number;
  data: unknown[];
  nsp?: string;
  id?: number;
}

/** The session Socket.IO asks an adapter to keep when a socket drops. */
export type PersistedSession = Omit<Session, 'missedPackets'>;

/**
 * The session an adapter hands back to Socket.IO. Socket.IO 4.8 writes its `missedPackets` to the
 * transport in the Socket constructor, before the namespace's middlewares have checked the new
 * token: so it never carries any (see recovery-stash.ts), nor the previous socket's data.
 */
export function withoutPackets(session: PersistedSession): Session {
  return { sid: session.sid, pid: session.pid, rooms: session.rooms, data: {}, missedPackets: [] };
}

/**
 * Whether a broadcast is a `socket.emit` to one socket of this node: with connection state
 * recovery on, Socket.IO 4.8 sends those through the adapter (so that they get an offset) as a
 * broadcast to the socket's own room.
 */
export function isSocketEmit(nsp: Namespace, opts: BroadcastOptions): boolean {
  if (opts.rooms.size !== 1 || (opts.except?.size ?? 0) > 0) return false;
  const [room] = opts.rooms;
  return room !== undefined && nsp.sockets.get(room)?.id === room;
}

/** What Socket.IO accepts as its `adapter` option. */
export type AdapterConstructor = NonNullable<ServerOptions['adapter']>;

/**
 * Socket.IO calls the `adapter` option with `new` and one argument, the namespace; a `function`
 * (not an arrow, which `new` refuses) returning an object does as well as a class, and lets a
 * factory pick an adapter per namespace and share one Redis link between them. The option is
 * typed as the class, hence the cast.
 */
export function adapterConstructor(create: (nsp: Namespace) => Adapter): AdapterConstructor {
  return function adapter(nsp: Namespace): Adapter {
    return create(nsp);
  } as unknown as AdapterConstructor;
}

/**
 * Writes a packet to this node's sockets only. `ClusterAdapter` overrides `broadcast` to publish to
 * the other nodes; the in-memory `Adapter`'s own `broadcast` is what delivers locally.
 */
export function deliverToLocalSockets(adapter: Adapter, packet: BroadcastPacket, opts: BroadcastOptions): void {
  Adapter.prototype.broadcast.call(adapter, packet, opts);
}

/**
 * Writes an event packet straight to a socket's transport, as the Socket constructor writes a
 * restored session's missed packets: `socket.emit` would send it through the adapter again (into
 * the stream, behind newer pushes). `packet` is a private method of Socket.
 */
export function writeToTransport(socket: Socket, data: unknown[]): void {
  const transport = socket as unknown as { packet(packet: { type: number; data: unknown[] }): void };
  transport.packet({ type: EVENT_PACKET, data });
}

/**
 * A cluster message as it travels in the stream: the fields of `@socket.io/redis-streams-adapter`'s
 * entries, with our sequence number (`pub`) in `data` and, on responses, the requesting node.
 */
export interface WireMessage {
  uid: string;
  nsp: string;
  type: number;
  data?: Record<string, unknown> & { pub?: number };
  /** Responses are addressed to the requesting node. */
  to?: string;
}

/**
 * `ClusterAdapter`'s messages and responses are unions keyed by `type` whose `data` we extend with
 * `pub`; read back from the stream they are only known to have the wire shape, and handed to
 * `ClusterAdapter.onMessage`/`onResponse`, which dispatch on `type` themselves.
 */
export function toWire(message: ClusterMessage | ClusterResponse): WireMessage {
  return message as unknown as WireMessage;
}

export function asClusterMessage(message: WireMessage): ClusterMessage {
  return message as unknown as ClusterMessage;
}

export function asClusterResponse(message: WireMessage): ClusterResponse {
  return message as unknown as ClusterResponse;
}
