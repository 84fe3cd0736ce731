import { Adapter, type BroadcastOptions, type Session } from 'socket.io-adapter';
import type { Namespace } from 'socket.io';
import { isRecoverable, reaches } from './broadcast-packet';
import { RecoveryStash, type RecoveredState, type RecoveringAdapter } from './recovery-stash';
import { withoutPackets, type BroadcastPacket, type PersistedSession } from './socket-io-internals';
import { compareStreamIds, isStreamId, streamIdTime } from './stream-id';

interface KeptPacket {
  id: string;
  opts: BroadcastOptions;
  data: unknown[];
}

/**
 * The single-node adapter for a namespace with connection state recovery: it keeps the
 * recoverable broadcasts of the last recovery window (at most `maxPackets`) and the sessions of
 * dropped sockets, like Socket.IO's SessionAwareAdapter, but hands missed packets to the
 * namespace only after its handshake accepted the new token. Offsets have the Redis stream id
 * format (time-sequence), so their age can be judged the same way in both modes.
 */
export class MemoryRecoveryAdapter extends Adapter implements RecoveringAdapter {
  private readonly sessions = new Map<string, PersistedSession & { disconnectedAt: number }>();
  private readonly packets: KeptPacket[] = [];
  private readonly stash = new RecoveryStash();
  private lastMs = 0;
  private lastSeq = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    nsp: Namespace,
    private readonly windowMs: number,
    private readonly maxPackets: number,
  ) {
    super(nsp);
    this.sweeper = setInterval(() => this.sweep(), Math.min(10_000, windowMs));
    this.sweeper.unref();
  }

  override broadcast(packet: BroadcastPacket, opts: BroadcastOptions): void {
    let offset: string | undefined;
    if (isRecoverable(packet, opts)) {
      offset = this.nextId();
      packet.data.push(offset);
      this.packets.push({ id: offset, opts, data: packet.data });
      // Trimmed in steps of a tenth of the cap: cutting one packet off the front of a full list on
      // every broadcast moves the whole list each time (it doubled the CPU per message once full).
      if (this.packets.length > this.maxPackets + Math.ceil(this.maxPackets / 10)) {
        this.packets.splice(0, this.packets.length - this.maxPackets);
      }
    }
    super.broadcast(packet, opts);
    this.stash.capture(packet.data, opts, offset);
  }

  override persistSession(session: PersistedSession): void {
    // A copy: the socket's own data object lives on with the old socket.
    this.sessions.set(session.pid, { ...session, data: structuredClone(session.data), disconnectedAt: Date.now() });
  }

  /** Synchronous underneath, so nothing can be broadcast between reading the missed packets and opening the stash. */
  override restoreSession(pid: string, offset: string): Promise<Session> {
    const session = this.sessions.get(pid);
    this.sessions.delete(pid);
    const now = Date.now();
    if (!session || session.disconnectedAt + this.windowMs < now) return Promise.reject(new Error('no such session'));
    if (!isStreamId(offset) || streamIdTime(offset) < now - this.windowMs)
      return Promise.reject(new Error('offset too old'));
    const index = this.indexOf(offset);
    if (index === -1) return Promise.reject(new Error('offset not kept'));
    const missed = this.packets
      .slice(index + 1)
      .filter((kept) => reaches(session.rooms, kept.opts))
      .map((kept) => kept.data);
    this.stash.open(session.sid, session.rooms, session.data);
    this.stash.setMissed(session.sid, missed);
    return Promise.resolve(withoutPackets(session));
  }

  takeRecovered(sid: string): RecoveredState | undefined {
    return this.stash.take(sid);
  }

  override close(): void {
    clearInterval(this.sweeper);
  }

  private nextId(): string {
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.lastSeq = 0;
    } else {
      this.lastSeq++;
    }
    return `${this.lastMs}-${this.lastSeq}`;
  }

  /** Packets are kept in id order: binary search. */
  private indexOf(id: string): number {
    let low = 0;
    let high = this.packets.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const order = compareStreamIds((this.packets[mid] as KeptPacket).id, id);
      if (order === 0) return mid;
      if (order < 0) low = mid + 1;
      else high = mid - 1;
    }
    return -1;
  }

  private sweep(): void {
    const threshold = Date.now() - this.windowMs;
    for (const [pid, session] of this.sessions) if (session.disconnectedAt < threshold) this.sessions.delete(pid);
    let expired = 0;
    while (expired < this.packets.length && streamIdTime((this.packets[expired] as KeptPacket).id) < threshold)
      expired++;
    if (expired > 0) this.packets.splice(0, expired);
  }
}
