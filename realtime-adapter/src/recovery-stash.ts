import type { BroadcastOptions } from 'socket.io-adapter';
import { reaches } from './broadcast-packet';
import { compareStreamIds, isStreamId, UNRECORDED_OFFSET } from './stream-id';

/** What a restored session brought back, held until the handshake has accepted the new token. */
export interface RecoveredState {
  /** The previous socket's `data` (its principal): compared, never trusted. */
  data: unknown;
  /** Missed packets, then those broadcast to the session's rooms while it was being restored. */
  packets: unknown[][];
  /** False when more arrived than is sensible to replay: the socket must reload instead. */
  complete: boolean;
}

/** An adapter that restores sessions without handing their packets to Socket.IO. */
export interface RecoveringAdapter {
  takeRecovered(sid: string): RecoveredState | undefined;
}

export function isRecoveringAdapter(adapter: unknown): adapter is RecoveringAdapter {
  return typeof (adapter as Partial<RecoveringAdapter> | undefined)?.takeRecovered === 'function';
}

/** A restored session whose socket never connected (refused handshake, client gone) is forgotten. */
const STASH_TTL_MS = 30_000;
/** Live packets kept for one restoring socket; beyond this it reloads rather than replays. */
const MAX_CAPTURED = 2_000;

interface Entry {
  rooms: string[];
  data: unknown;
  missed: unknown[][];
  captured: unknown[][];
  /** Stream position the missed packets were read up to: later captures are new, earlier ones duplicates. */
  readUpTo: string | undefined;
  complete: boolean;
  timer: NodeJS.Timeout;
}

/**
 * Socket.IO 4.8 writes a restored session's missed packets to the transport in the Socket
 * constructor, before the namespace middlewares have checked the new token, so an expired or
 * foreign token would still receive them. Adapters therefore hand Socket.IO a session without
 * packets and keep them here; the namespace replays them once its handshake has accepted the token
 * and checked it belongs to the session's principal (see session-recovery.ts).
 *
 * The stash also catches what is broadcast to the session's rooms between the restore and the
 * socket's connection: Socket.IO does not deliver to a socket that is still in its middlewares.
 */
export class RecoveryStash {
  private readonly entries = new Map<string, Entry>();

  open(sid: string, rooms: string[], data: unknown, readUpTo?: string): void {
    this.drop(sid);
    const timer = setTimeout(() => this.entries.delete(sid), STASH_TTL_MS);
    timer.unref();
    this.entries.set(sid, { rooms, data, missed: [], captured: [], readUpTo, complete: true, timer });
  }

  setMissed(sid: string, packets: unknown[][]): void {
    const entry = this.entries.get(sid);
    if (entry) entry.missed = packets;
  }

  drop(sid: string): void {
    const entry = this.entries.get(sid);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.entries.delete(sid);
  }

  /** A packet delivered on this node: kept for every restoring session it was meant for. */
  capture(data: unknown[], opts: BroadcastOptions, offset: string | undefined): void {
    if (this.entries.size === 0) return;
    for (const entry of this.entries.values()) {
      if (!entry.complete || !reaches(entry.rooms, opts)) continue;
      const recorded = offset !== undefined && offset !== UNRECORDED_OFFSET && isStreamId(offset);
      if (recorded && entry.readUpTo && compareStreamIds(offset, entry.readUpTo) <= 0) continue;
      if (entry.captured.length >= MAX_CAPTURED) {
        entry.complete = false;
        entry.captured = [];
        continue;
      }
      entry.captured.push(data);
    }
  }

  take(sid: string): RecoveredState | undefined {
    const entry = this.entries.get(sid);
    if (!entry) return undefined;
    this.drop(sid);
    return { data: entry.data, packets: [...entry.missed, ...entry.captured], complete: entry.complete };
  }
}
