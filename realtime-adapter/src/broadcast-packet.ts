import type { BroadcastOptions } from 'socket.io-adapter';
import { EVENT_PACKET, type BroadcastPacket } from './socket-io-internals';

/** Broadcast options as they travel between nodes (sets become arrays). */
export interface WireOptions {
  rooms: string[];
  except: string[];
  flags: NonNullable<BroadcastOptions['flags']>;
}

export function encodeOptions(opts: BroadcastOptions): WireOptions {
  return { rooms: [...opts.rooms], except: [...(opts.except ?? [])], flags: opts.flags ?? {} };
}

export function decodeOptions(wire: WireOptions): BroadcastOptions {
  return { rooms: new Set(wire.rooms), except: new Set(wire.except), flags: wire.flags };
}

export function isVolatile(opts: { flags?: BroadcastOptions['flags'] }): boolean {
  return opts.flags?.volatile !== undefined && opts.flags.volatile !== false;
}

/**
 * Whether a packet is kept for connection state recovery (and so carries an offset): an event
 * without an ack (an ack function cannot be replayed on another node), and not volatile (typing
 * indicators are worthless late).
 */
export function isRecoverable(packet: BroadcastPacket, opts: { flags?: BroadcastOptions['flags'] }): boolean {
  return packet.type === EVENT_PACKET && packet.id === undefined && !isVolatile(opts);
}

/** Whether a socket in `rooms` is an audience of a broadcast with these options. */
export function reaches(
  rooms: readonly string[],
  opts: { rooms: Iterable<string>; except?: Iterable<string> },
): boolean {
  const targets = [...opts.rooms];
  const excluded = new Set(opts.except ?? []);
  const included = targets.length === 0 || rooms.some((room) => targets.includes(room));
  return included && rooms.every((room) => !excluded.has(room));
}

/** A packet for every socket of a namespace, from the server itself (e.g. `sync.reload`). */
export function namespacePacket(nsp: string, data: unknown[]): BroadcastPacket {
  return { type: EVENT_PACKET, data, nsp };
}
