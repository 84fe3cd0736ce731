import { io, type Socket } from 'socket.io-client';
import type {
  AckResponse,
  AgentClientToServerEvents,
  AgentServerToClientEvents,
  VisitorClientToServerEvents,
  VisitorServerToClientEvents,
} from '@parley/protocol';

export type VisitorClientSocket = Socket<VisitorServerToClientEvents, VisitorClientToServerEvents>;
export type AgentClientSocket = Socket<AgentServerToClientEvents, AgentClientToServerEvents>;

export interface ConnectOptions {
  headers?: Record<string, string>;
  /** Keep reconnecting (for drop/recovery tests); off by default so a refusal is final. */
  reconnection?: boolean;
}

function open(url: string, namespace: string, token: string | undefined, options: ConnectOptions): Socket {
  return io(`${url}${namespace}`, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: options.reconnection ?? false,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    ...(options.headers ? { extraHeaders: options.headers } : {}),
  });
}

/** Resolves once connected; rejects with the `connect_error` (its message is the protocol code). */
export function waitConnected(socket: Socket, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    const timer = setTimeout(() => reject(new Error('connect timed out')), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (error: Error & { data?: unknown }) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export async function connectVisitor(
  url: string,
  token: string,
  options: ConnectOptions = {},
): Promise<VisitorClientSocket> {
  const socket = open(url, '/visitor', token, options) as VisitorClientSocket;
  await waitConnected(socket);
  return socket;
}

export async function connectAgent(
  url: string,
  token: string,
  options: ConnectOptions = {},
): Promise<AgentClientSocket> {
  const socket = open(url, '/agent', token, options) as AgentClientSocket;
  await waitConnected(socket);
  return socket;
}

/** Tries a handshake that should be refused; resolves with the `connect_error`. */
export function refusedHandshake(
  url: string,
  namespace: '/visitor' | '/agent',
  token: string | undefined,
  options: ConnectOptions = {},
): Promise<Error & { data?: { code: string; message: string } }> {
  const socket = open(url, namespace, token, options);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('handshake neither refused nor accepted')), 5000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.close();
      reject(new Error('handshake was accepted'));
    });
    socket.once('connect_error', (error: Error & { data?: { code: string; message: string } }) => {
      clearTimeout(timer);
      socket.close();
      resolve(error);
    });
  });
}

/** Emits a command and resolves with its ack, untyped so tests can send malformed payloads too. */
export function command<T = unknown>(
  socket: Socket,
  name: string,
  payload?: unknown,
  timeoutMs = 10_000,
): Promise<AckResponse<T>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${name}`)), timeoutMs);
    const ack = (response: AckResponse<T>) => {
      clearTimeout(timer);
      resolve(response);
    };
    if (payload === undefined) (socket.emit as (...args: unknown[]) => void)(name, ack);
    else (socket.emit as (...args: unknown[]) => void)(name, payload, ack);
  });
}

/** Like `command`, but the ack must be ok; returns its data. */
export async function ok<T = unknown>(socket: Socket, name: string, payload?: unknown): Promise<T> {
  const response = await command<T>(socket, name, payload);
  if (!response.ok) throw new Error(`${name} failed: ${response.error.code} ${response.error.message}`);
  return response.data;
}

/** Records every event a socket receives, in order. */
export class EventLog {
  readonly events: { name: string; payload: unknown }[] = [];
  private waiters: { name: string; predicate: (p: unknown) => boolean; resolve: (p: unknown) => void }[] = [];

  constructor(socket: Socket) {
    socket.onAny((name: string, payload: unknown) => {
      this.events.push({ name, payload });
      this.waiters = this.waiters.filter((w) => {
        if (w.name !== name || !w.predicate(payload)) return true;
        w.resolve(payload);
        return false;
      });
    });
  }

  of<T = unknown>(name: string): T[] {
    return this.events.filter((e) => e.name === name).map((e) => e.payload as T);
  }

  names(): string[] {
    return this.events.map((e) => e.name);
  }

  /** The first matching event already received, or the next one to arrive. */
  wait<T = unknown>(name: string, predicate: (payload: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
    const seen = this.events.find((e) => e.name === name && predicate(e.payload as T));
    if (seen) return Promise.resolve(seen.payload as T);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${name} event within ${timeoutMs} ms; got ${this.names().join(', ')}`)),
        timeoutMs,
      );
      this.waiters.push({
        name,
        predicate: (p) => predicate(p as T),
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p as T);
        },
      });
    });
  }

  /** Resolves once `count` events of `name` have arrived. */
  async waitCount(name: string, count: number, timeoutMs = 10_000): Promise<unknown[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.of(name).length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} ${name} events, got ${this.of(name).length}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.of(name);
  }

  clear(): void {
    this.events.length = 0;
  }
}

/** A packet as it arrived on the wire, before the client decided what to do with it. */
export interface WirePacket {
  type: number;
  nsp: string;
  data?: unknown;
}

/** socket.io-parser's packet types, for reading WirePackets. */
export const PacketType = { CONNECT: 0, EVENT: 2, CONNECT_ERROR: 4 } as const;

/**
 * Every packet the socket's connection receives, including those the client drops or buffers (an
 * event before a refused handshake never reaches a listener, yet it did reach the client).
 */
export function wirePackets(socket: Socket): WirePacket[] {
  const packets: WirePacket[] = [];
  socket.io.on('packet', (packet: WirePacket) => packets.push(packet));
  return packets;
}

/** The names of the events among `packets`. */
export const eventNames = (packets: WirePacket[]): string[] =>
  packets.filter((p) => p.type === PacketType.EVENT).map((p) => String((p.data as unknown[])[0]));

/**
 * Connects a socket again by hand (sockets made here do not reconnect by themselves unless asked
 * to), so that a test decides how long it stays away. Resolves with `connected` or the refusal code.
 */
export function reconnect(socket: Socket, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('reconnect neither accepted nor refused')), timeoutMs);
    const done = (outcome: string) => {
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('connect_error', onError);
      resolve(outcome);
    };
    const onConnect = () => done('connected');
    const onError = (error: Error) => done(error.message);
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
    socket.connect();
  });
}

/** Cuts the socket's transport as a network failure would (the server keeps its session) and waits for the client to notice. */
export async function dropTransport(socket: Socket, timeoutMs = 5_000): Promise<void> {
  socket.io.engine.close();
  const deadline = Date.now() + timeoutMs;
  while (socket.connected) {
    if (Date.now() > deadline) throw new Error('the socket did not notice the drop');
    await new Promise((r) => setTimeout(r, 10));
  }
}
