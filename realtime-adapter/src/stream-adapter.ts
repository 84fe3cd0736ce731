import type { Namespace } from 'socket.io';
import {
  ClusterAdapterWithHeartbeat,
  MessageType,
  type BroadcastOptions,
  type ClusterMessage,
  type ClusterResponse,
  type Session,
} from 'socket.io-adapter';
import type { AdapterLogger } from './adapter-logger';
import type { AdapterMetrics } from './adapter-metrics';
import type { LossReason } from './loss-reason';
import {
  decodeOptions,
  encodeOptions,
  isRecoverable,
  isVolatile,
  namespacePacket,
  reaches,
  type WireOptions,
} from './broadcast-packet';
import { LocalOutbox, type Delivery } from './local-outbox';
import { RecoveryStash, type RecoveredState, type RecoveringAdapter } from './recovery-stash';
import {
  asClusterMessage,
  asClusterResponse,
  deliverToLocalSockets,
  isSocketEmit,
  toWire,
  withoutPackets,
  type BroadcastPacket,
  type PersistedSession,
  type WireMessage,
} from './socket-io-internals';
import { compareStreamIds, isStreamId, nextStreamId, streamIdTime, UNRECORDED_OFFSET } from './stream-id';
import type { PublishKind, StreamConsumer, StreamEntry, StreamLink } from './stream-link';

export interface StreamAdapterOptions {
  /** Connection state recovery on this namespace: offsets on packets, sessions kept in Redis. */
  recovery: boolean;
  /** `connectionStateRecovery.maxDisconnectionDuration`. */
  recoveryWindowMs: number;
  /** The event that tells a socket to fetch what it may have missed, as `[name, payload]`. */
  lossEvent(reason: LossReason): unknown[];
  /** How long a broadcast waits for the stream before reaching this node's sockets anyway. */
  publishWaitMs: number;
  heartbeatIntervalMs: number;
  /** A node not heard from for this long (while this node hears Redis) is presumed dead. */
  heartbeatTimeoutMs: number;
}

/** How long a reconnecting socket may wait for its session to be restored before starting afresh. */
const RESTORE_WAIT_MS = 2_000;
/** Stream entries read per XRANGE while restoring a session. */
const RESTORE_PAGE = 500;
/** A session that missed more than this many entries (of every project) reloads instead. */
const RESTORE_MAX_ENTRIES = 10_000;
/** Entries before the offset looked at to recognise duplicates (a re-sent XADD) after it. */
const RESTORE_LOOKBEHIND = 200;
/** Redis's clock and ours may differ by this much when judging an offset's age. */
const CLOCK_SLACK_MS = 5_000;
/** Several reasons to reload at once (every node lost at once) make one signal. */
const LOSS_SIGNAL_COALESCE_MS = 1_000;

/**
 * Socket.IO's cluster adapter over a Redis stream per namespace, in the format of
 * `@socket.io/redis-streams-adapter` (uid, nsp, type, JSON data), with what Parley needs on top:
 *
 * - Same-node delivery goes through a local outbox (see LocalOutbox): in order, and never stuck
 *   behind a Redis that is down or stalled.
 * - Every entry carries its sender's sequence number (`pub`), so one that Redis received twice (a
 *   command ioredis re-sent after a dropped connection) is delivered once, live and on recovery.
 * - Sessions are restored from the stream only for recent offsets, in bounded pages, up to the
 *   reader's own position (what comes after, the reader delivers), and their packets wait in a
 *   RecoveryStash until the namespace's handshake has accepted the new token.
 * - When pushes may have been lost (entries trimmed before they were read, a node that vanished
 *   while it may have held unsent pushes, pushes this node dropped during a long outage) the
 *   namespace's sockets are sent `lossEvent`, so that they fetch the current state.
 *
 * Binary payloads are not supported (Parley's events are JSON).
 */
export class StreamAdapter extends ClusterAdapterWithHeartbeat implements RecoveringAdapter, StreamConsumer {
  private readonly stream: string;
  private readonly outbox: LocalOutbox;
  private readonly stash = new RecoveryStash();
  /** Highest sequence number delivered per sending node (uid). */
  private readonly lastSeen = new Map<string, number>();
  /** When each other node was last heard from. */
  private readonly peers = new Map<string, number>();
  private readonly peerTimer: NodeJS.Timeout;
  private sent = 0;
  private droppedSinceReady = false;
  private lastLossSignal = 0;

  constructor(
    nsp: Namespace,
    private readonly link: StreamLink,
    private readonly opts: StreamAdapterOptions,
    private readonly logger: AdapterLogger,
    private readonly metrics?: AdapterMetrics,
  ) {
    super(nsp, { heartbeatInterval: opts.heartbeatIntervalMs, heartbeatTimeout: opts.heartbeatTimeoutMs });
    this.stream = link.streamOf(nsp.name);
    this.outbox = new LocalOutbox(
      (packet, options, delivery) => this.deliverLocally(packet, options, delivery),
      opts.publishWaitMs,
    );
    this.peerTimer = setInterval(() => this.checkPeers(), 1_000);
    this.peerTimer.unref();
    link.attach(this.stream, this);
  }

  // ---- broadcasting ----

  override broadcast(packet: BroadcastPacket, opts: BroadcastOptions): Promise<void> {
    if (opts.flags?.local) {
      this.outbox.now(packet, opts, undefined, true);
      return Promise.resolve();
    }
    // `socket.emit` to a socket of this node (Socket.IO sends it through the adapter when recovery is
    // on): delivered now, as without Redis. A `session.expiring` is followed at once by a disconnect.
    if (isSocketEmit(this.nsp, opts)) {
      this.deliverLocally(packet, opts, { kind: 'local' });
      return Promise.resolve();
    }
    const pub = ++this.sent;
    const message: WireMessage = {
      uid: this.uid,
      nsp: this.nsp.name,
      type: MessageType.BROADCAST,
      data: { packet, opts: encodeOptions(opts), pub },
    };
    const outcome = this.write(message, isVolatile(opts) ? 'volatile' : 'push');
    if (outcome === 'dropped') this.droppedSinceReady = true;
    // Read back in stream order while Redis answers; at once (unrecorded) while it does not.
    if (outcome === 'queued' && this.link.ready && !this.outbox.degraded) this.outbox.expect(pub, packet, opts);
    else this.outbox.now(packet, opts, outcome === 'skipped' ? undefined : pub, false);
    return Promise.resolve();
  }

  /** Heartbeats and Socket.IO's other cluster requests (fetchSockets, serverSideEmit…). */
  protected override doPublish(message: ClusterMessage): Promise<string> {
    const wire = toWire(message);
    const control = wire.type === MessageType.HEARTBEAT || wire.type === MessageType.INITIAL_HEARTBEAT;
    wire.data = { ...wire.data, pub: ++this.sent };
    this.write(wire, control ? 'control' : 'push');
    return Promise.resolve('');
  }

  protected override doPublishResponse(requesterUid: string, response: ClusterResponse): Promise<void> {
    this.write({ ...toWire(response), to: requesterUid }, 'push');
    return Promise.resolve();
  }

  private write(message: WireMessage, kind: PublishKind): 'queued' | 'skipped' | 'dropped' {
    const fields = ['uid', message.uid, 'nsp', message.nsp, 'type', String(message.type)];
    if (message.data !== undefined) fields.push('data', JSON.stringify(message.data));
    if (message.to !== undefined) fields.push('to', message.to);
    return this.link.publish(this.stream, fields, kind).status;
  }

  // ---- reading ----

  onEntry(id: string, fields: string[]): void {
    const message = decodeEntry(fields);
    if (!message || message.nsp !== this.nsp.name) return;
    const pub = message.data?.pub;
    if (message.uid === this.uid) {
      if (typeof pub === 'number') this.outbox.readBack(pub, id);
      // Redis carries this node's pushes again.
      this.reportDrops();
      return;
    }
    if (message.to !== undefined) {
      if (message.to === this.uid) this.onResponse(asClusterResponse(message));
      return;
    }
    this.peers.set(message.uid, Date.now());
    if (typeof pub === 'number') {
      if (pub <= (this.lastSeen.get(message.uid) ?? 0)) return;
      // A restarted node has a new uid; old ones are few and tiny, so they are simply kept.
      this.lastSeen.set(message.uid, pub);
    }
    if (message.type === MessageType.ADAPTER_CLOSE) this.peers.delete(message.uid);
    if (message.type === MessageType.BROADCAST && message.data?.['requestId'] === undefined) {
      const { packet, opts } = message.data as { packet: BroadcastPacket; opts: WireOptions };
      this.deliverLocally(packet, decodeOptions(opts), { kind: 'recorded', id });
      return;
    }
    super.onMessage(asClusterMessage(message), id);
  }

  onGap(): void {
    this.signalLoss('stream_gap', 'local');
  }

  onLinkReady(): void {
    this.reportDrops();
  }

  /** What this node dropped, the other nodes' sockets missed: tell them (the stream carries it). */
  private reportDrops(): void {
    if (!this.droppedSinceReady || !this.link.ready) return;
    this.droppedSinceReady = false;
    this.signalLoss('pushes_dropped', 'others');
  }

  private deliverLocally(packet: BroadcastPacket, opts: BroadcastOptions, delivery: Delivery): void {
    let offset: string | undefined;
    if (this.opts.recovery && delivery.kind !== 'local' && isRecoverable(packet, opts)) {
      offset = delivery.kind === 'recorded' && !this.outbox.tainted ? delivery.id : UNRECORDED_OFFSET;
      packet.data.push(offset);
    }
    deliverToLocalSockets(this, packet, opts);
    if (this.opts.recovery) this.stash.capture(packet.data, opts, offset);
  }

  // ---- nodes coming and going ----

  /**
   * A node that falls silent without saying goodbye may have died holding pushes it had not yet
   * written (during a Redis outage, or in flight): every socket here is told to reload. Silence is
   * only judged while this node itself hears Redis, and counted from when it started to again.
   */
  private checkPeers(): void {
    const listeningSince = this.link.listeningSince;
    if (listeningSince === undefined) return;
    const now = Date.now();
    for (const [uid, heard] of this.peers) {
      if (now - Math.max(heard, listeningSince) <= this.opts.heartbeatTimeoutMs) continue;
      this.peers.delete(uid);
      this.logger.warn({ namespace: this.nsp.name, node: uid }, 'a node went silent: its pushes may be lost');
      this.signalLoss('node_lost', 'local');
    }
  }

  private signalLoss(reason: LossReason, audience: 'local' | 'others'): void {
    const now = Date.now();
    if (audience === 'local' && now - this.lastLossSignal < LOSS_SIGNAL_COALESCE_MS) return;
    if (audience === 'local') this.lastLossSignal = now;
    this.metrics?.syncReloads.inc({ namespace: this.nsp.name, reason });
    const packet = namespacePacket(this.nsp.name, this.opts.lossEvent(reason));
    const all: BroadcastOptions = { rooms: new Set(), except: new Set(), flags: {} };
    if (audience === 'local') {
      this.outbox.now(packet, { ...all, flags: { local: true } }, undefined, true);
      return;
    }
    // Into the stream only: this node's own sockets missed nothing. Recoverable, like any push.
    const message: WireMessage = {
      uid: this.uid,
      nsp: this.nsp.name,
      type: MessageType.BROADCAST,
      data: { packet, opts: encodeOptions(all), pub: ++this.sent },
    };
    this.write(message, 'signal');
  }

  // ---- connection state recovery ----

  override persistSession(session: PersistedSession): void {
    if (!this.opts.recovery) return;
    const key = this.link.sessionKey(session.pid);
    this.link.redis.set(key, JSON.stringify(session), 'PX', this.opts.recoveryWindowMs).catch((error: unknown) => {
      this.logger.warn({ err: error }, 'session not kept for recovery');
    });
  }

  override restoreSession(pid: string, offset: string): Promise<Session> {
    if (!this.opts.recovery) return Promise.reject(new Error('no recovery on this namespace'));
    if (!isStreamId(offset)) return Promise.reject(new Error('invalid offset'));
    // An old offset would mean a long read; the session is past the window anyway.
    if (streamIdTime(offset) < Date.now() - this.opts.recoveryWindowMs - CLOCK_SLACK_MS) {
      return Promise.reject(new Error('offset older than the recovery window'));
    }
    // Redis away or slow, or this node's sockets hold packets not yet in the stream: start afresh.
    if (!this.link.ready || this.outbox.degraded || this.outbox.tainted) {
      return Promise.reject(new Error('redis unavailable'));
    }
    let abandoned = false;
    const reading = this.readSession(pid, offset, () => abandoned);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        abandoned = true;
        reject(new Error('redis too slow to restore the session'));
      }, RESTORE_WAIT_MS);
      reading.then(
        (session) => {
          clearTimeout(timer);
          if (abandoned) this.stash.drop(session.sid);
          else resolve(session);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  takeRecovered(sid: string): RecoveredState | undefined {
    return this.stash.take(sid);
  }

  /**
   * Reads what the session missed: the entries after `offset` up to the reader's position. Entries
   * after that position the reader delivers itself, and the stash catches them for this socket.
   */
  private async readSession(pid: string, offset: string, abandoned: () => boolean): Promise<Session> {
    const redis = this.link.redis;
    // The offset may come from another node whose reader is ahead of ours.
    if (!(await this.link.waitUntilRead(this.stream, offset, RESTORE_WAIT_MS))) throw new Error('offset not read yet');
    const key = this.link.sessionKey(pid);
    const replies = await redis.multi().get(key).del(key).xrange(this.stream, offset, offset).exec();
    const raw = replies?.[0]?.[1];
    const offsetEntry = replies?.[2]?.[1] as StreamEntry[] | undefined;
    // No session (expired, already restored, forged pid) or an offset that is not (or no longer) in the stream.
    if (typeof raw !== 'string' || !offsetEntry || offsetEntry.length === 0)
      throw new Error('session or offset not found');
    const session = JSON.parse(raw) as PersistedSession;
    const until = this.link.position(this.stream) ?? offset;
    this.stash.open(session.sid, session.rooms, session.data, until);
    try {
      const missed = await this.readMissed(session.rooms, offset, until, abandoned);
      this.stash.setMissed(session.sid, missed);
    } catch (error) {
      this.stash.drop(session.sid);
      throw error;
    }
    return withoutPackets(session);
  }

  /** The recoverable packets for `rooms` in (offset, until], once each, in bounded pages. */
  private async readMissed(rooms: string[], offset: string, until: string, abandoned: () => boolean) {
    const redis = this.link.redis;
    const seen = new Map<string, number>();
    const firstTime = (message: WireMessage): boolean => {
      const pub = message.data?.pub;
      if (typeof pub !== 'number') return true;
      if (pub <= (seen.get(message.uid) ?? 0)) return false;
      seen.set(message.uid, pub);
      return true;
    };
    // What the socket already had: a re-sent XADD can put a copy of one of them after the offset.
    const before = (await redis.xrevrange(this.stream, offset, '-', 'COUNT', RESTORE_LOOKBEHIND)) as StreamEntry[];
    for (const [, fields] of before.reverse()) {
      const message = decodeEntry(fields);
      if (message) firstTime(message);
    }

    const missed: unknown[][] = [];
    let from = nextStreamId(offset);
    let scanned = 0;
    while (compareStreamIds(from, until) <= 0) {
      if (abandoned()) throw new Error('abandoned');
      const page = (await redis.xrange(this.stream, from, until, 'COUNT', RESTORE_PAGE)) as StreamEntry[];
      if (page.length === 0) break;
      scanned += page.length;
      if (scanned > RESTORE_MAX_ENTRIES) throw new Error('too much missed to replay');
      for (const [id, fields] of page) {
        const message = decodeEntry(fields);
        if (!message || !firstTime(message)) continue;
        if (message.type !== MessageType.BROADCAST || message.to !== undefined) continue;
        const data = message.data as { packet: BroadcastPacket; opts: WireOptions; requestId?: string };
        if (data.requestId !== undefined || !isRecoverable(data.packet, data.opts)) continue;
        if (!reaches(rooms, data.opts)) continue;
        data.packet.data.push(id);
        missed.push(data.packet.data);
      }
      from = nextStreamId((page[page.length - 1] as StreamEntry)[0]);
    }
    return missed;
  }

  override close(): void {
    super.close();
    clearInterval(this.peerTimer);
    this.outbox.close();
    this.link.detach(this.stream);
  }
}

function decodeEntry(fields: string[]): WireMessage | undefined {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i] as string] = fields[i + 1] as string;
  const { uid, nsp, type, data, to } = record;
  if (uid === undefined || nsp === undefined || type === undefined) return undefined;
  let decoded: WireMessage['data'];
  if (data !== undefined) {
    try {
      decoded = JSON.parse(data) as WireMessage['data'];
    } catch {
      return undefined;
    }
  }
  return {
    uid,
    nsp,
    type: Number(type),
    ...(decoded !== undefined ? { data: decoded } : {}),
    ...(to !== undefined ? { to } : {}),
  };
}
