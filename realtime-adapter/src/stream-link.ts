import type { Redis } from 'ioredis';
import type { AdapterLogger } from './adapter-logger';
import type { AdapterMetrics } from './adapter-metrics';
import { compareStreamIds, isStreamId, streamIdAt } from './stream-id';

/** One stream entry, as ioredis returns it: the id and a flat list of field names and values. */
export type StreamEntry = [id: string, fields: string[]];

/** What a namespace's adapter gets from the reader. */
export interface StreamConsumer {
  /** An entry of its stream, in stream order; the node's own entries included. */
  onEntry(id: string, fields: string[]): void;
  /** Entries of its stream may have been lost before this node read them. */
  onGap(): void;
  /** Redis answers both the writer and the reader again after an outage. */
  onLinkReady(): void;
}

/**
 * - `push`: a broadcast; waits for Redis up to the pending caps;
 * - `control`, `volatile`: heartbeats and typing indicators; not sent while Redis is away;
 * - `signal`: a loss signal; always queued, never dropped (it is what tells others of drops).
 */
export type PublishKind = 'push' | 'control' | 'volatile' | 'signal';

export type PublishOutcome =
  | { status: 'queued'; written: Promise<string> }
  /** Not sent: a volatile packet or a heartbeat while Redis is away (worthless late). */
  | { status: 'skipped' }
  /** Not sent: too much is already waiting for Redis. Other nodes will miss it. */
  | { status: 'dropped' };

export interface StreamLinkOptions {
  /** Streams are `<prefix>:<namespace>`; session keys `<prefix>:session:<pid>`. */
  prefix: string;
  /** Approximate cap of each stream (XADD MAXLEN ~). */
  maxLen: number;
  /** Pushes waiting for Redis beyond this count or size are dropped (other nodes are told to reload). */
  maxPendingPushes?: number;
  maxPendingBytes?: number;
  /** Entries per XREAD, and how long one blocks. */
  readCount?: number;
  blockMs?: number;
}

/** A reader connection that receives nothing for this long past its XREAD's block time is dead. */
const READ_SLACK_MS = 3_000;
/** A queued push costs about 2 KB of heap (measured); 16 MB of encoded payload is a few tens of MB. */
const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;

interface StreamState {
  consumer: StreamConsumer;
  /** The last entry read, or the synthetic start position. */
  position: string;
  positionIsEntry: boolean;
  /** Set when entries may have been lost after this position: checked before the next read. */
  checkFrom: { position: string; isEntry: boolean } | undefined;
  waiters: { id: string; resolve: (read: boolean) => void }[];
}

/**
 * One node's link to the Redis streams that carry broadcasts between nodes: one stream per
 * namespace, each node writing with XADD on the shared writer connection and reading every stream
 * on one blocking reader connection of its own.
 *
 * Unlike the stock streams adapter's reader, it starts from the node's start time (not from "$"),
 * so what other nodes wrote while Redis was still unreachable at start is not skipped; and it
 * notices when entries it never read were trimmed away (or Redis lost its data), so the sockets
 * that may have missed them are told to reload.
 */
export class StreamLink {
  readonly maxLen: number;
  private readonly reader: Redis;
  private readonly streams = new Map<string, StreamState>();
  private readonly maxPendingPushes: number;
  private readonly maxPendingBytes: number;
  private readonly readCount: number;
  private readonly blockMs: number;
  private pendingPushes = 0;
  private pendingBytes = 0;
  private droppedPushes = 0;
  private reading = false;
  private closed = false;
  private backstop: NodeJS.Timeout | undefined;
  /** When the reader last got a reply (entries, or none after its block time). */
  private lastReply = 0;
  /** Since when it has been getting replies without a pause longer than a block. */
  private replyingSince = 0;

  constructor(
    private readonly writer: Redis,
    private readonly options: StreamLinkOptions,
    private readonly logger: AdapterLogger,
    private readonly metrics?: AdapterMetrics,
  ) {
    this.maxLen = options.maxLen;
    // Well below what one stream holds, so that what waits can still be read by others once sent.
    this.maxPendingPushes = options.maxPendingPushes ?? Math.max(100, Math.floor(options.maxLen / 10));
    this.maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.readCount = options.readCount ?? 100;
    this.blockMs = options.blockMs ?? 2_000;
    this.reader = writer.duplicate({
      connectionName: 'parley-stream-reader',
      // A stalled Redis (no reset, no reply) would otherwise hold the reader forever.
      socketTimeout: this.blockMs + READ_SLACK_MS,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
    });
    this.reader.on('error', () => undefined); // outages are logged once by infra/redis.ts for the writer
    this.reader.on('ready', () => this.notifyIfReady());
    this.reader.on('close', () => {
      // Whatever was written from here until the reader is back may be trimmed before it reads it.
      for (const state of this.streams.values())
        state.checkFrom ??= { position: state.position, isEntry: state.positionIsEntry };
    });
    this.writer.on('ready', () => this.notifyIfReady());
  }

  streamOf(namespace: string): string {
    return `${this.options.prefix}:${namespace}`;
  }

  sessionKey(pid: string): string {
    return `${this.options.prefix}:session:${pid}`;
  }

  /** The writer connection, for the adapters' own commands (sessions, restore reads). */
  get redis(): Redis {
    return this.writer;
  }

  /** Both connections answer. (A stalled Redis still looks ready here: adapters time their waits.) */
  get ready(): boolean {
    return this.writer.status === 'ready' && this.reader.status === 'ready';
  }

  /**
   * Since when the reader has been hearing Redis without interruption, if it is now: a stalled
   * Redis keeps the connection "ready", but its replies stop.
   */
  get listeningSince(): number | undefined {
    return Date.now() - this.lastReply <= this.blockMs + READ_SLACK_MS ? this.replyingSince : undefined;
  }

  attach(stream: string, consumer: StreamConsumer): void {
    // From now: what is written later may be for this node's sockets, what was written before
    // cannot be (it has none yet). Entry ids are Redis's clock; a skew smaller than the time from
    // here to the first socket connecting does no harm.
    const start = streamIdAt(Date.now());
    this.streams.set(stream, {
      consumer,
      position: start,
      positionIsEntry: false,
      // The stream may have been trimmed past our start while Redis was still out of reach.
      checkFrom: { position: start, isEntry: false },
      waiters: [],
    });
    if (!this.reading) void this.readLoop();
  }

  detach(stream: string): void {
    const state = this.streams.get(stream);
    state?.waiters.forEach((w) => w.resolve(false));
    this.streams.delete(stream);
    if (this.streams.size === 0) this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Disconnecting during a blocking XREAD leaves ioredis's socket timer running (it would hold
    // a test process for seconds): let the read return first, unless Redis does not answer.
    if (!this.reading) {
      this.reader.disconnect();
      return;
    }
    this.backstop = setTimeout(() => this.reader.disconnect(), this.blockMs + 500);
    this.backstop.unref();
  }

  /** The reader's position in a stream: every entry up to it has been handed to its consumer. */
  position(stream: string): string | undefined {
    return this.streams.get(stream)?.position;
  }

  /** Resolves true once the reader has passed `id` in `stream`, false if it does not within `timeoutMs`. */
  waitUntilRead(stream: string, id: string, timeoutMs: number): Promise<boolean> {
    const state = this.streams.get(stream);
    if (!state) return Promise.resolve(false);
    if (compareStreamIds(state.position, id) >= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        id,
        resolve: (read: boolean) => {
          clearTimeout(timer);
          resolve(read);
        },
      };
      const timer = setTimeout(() => {
        state.waiters = state.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      state.waiters.push(waiter);
    });
  }

  /**
   * XADDs an entry. Pushes wait, in order, in the writer's offline queue while Redis is away
   * (ioredis re-sends on reconnect), up to the pending caps; beyond them they are dropped.
   */
  publish(stream: string, fields: string[], kind: PublishKind): PublishOutcome {
    const up = this.writer.status === 'ready';
    if (!up && (kind === 'control' || kind === 'volatile')) return { status: 'skipped' };
    const bytes = fields.reduce((sum, field) => sum + field.length, 0);
    if (
      kind === 'push' &&
      (this.pendingPushes >= this.maxPendingPushes || this.pendingBytes + bytes > this.maxPendingBytes)
    ) {
      if (this.droppedPushes++ % 1000 === 0) {
        this.logger.error(
          { dropped: this.droppedPushes, pending: this.pendingPushes },
          'redis away too long: broadcasts to other nodes dropped (their sockets will be told to reload)',
        );
      }
      this.metrics?.clusterDroppedPushes.inc();
      return { status: 'dropped' };
    }
    this.pendingPushes++;
    this.pendingBytes += bytes;
    this.updatePendingMetrics();
    const written = this.writer.xadd(stream, 'MAXLEN', '~', String(this.maxLen), '*', ...fields).then(
      (id) => id ?? '',
      (error: unknown) => {
        this.logger.warn({ err: error }, 'broadcast not written to redis');
        return '';
      },
    );
    void written.finally(() => {
      this.pendingPushes--;
      this.pendingBytes -= bytes;
      this.updatePendingMetrics();
    });
    return { status: 'queued', written };
  }

  private updatePendingMetrics(): void {
    this.metrics?.clusterPendingPushes.set(this.pendingPushes);
    this.metrics?.clusterPendingBytes.set(this.pendingBytes);
  }

  private notifyIfReady(): void {
    if (!this.ready) return;
    for (const state of this.streams.values()) state.consumer.onLinkReady();
  }

  private async readLoop(): Promise<void> {
    this.reading = true;
    while (!this.closed && this.streams.size > 0) {
      try {
        await this.checkGaps();
        const names = [...this.streams.keys()];
        const positions = names.map((name) => (this.streams.get(name) as StreamState).position);
        const reply = (await this.reader.xread(
          'COUNT',
          this.readCount,
          'BLOCK',
          this.blockMs,
          'STREAMS',
          ...names,
          ...positions,
        )) as [string, StreamEntry[]][] | null;
        this.heard();
        for (const [name, entries] of reply ?? []) this.deliver(name, entries);
      } catch (error) {
        if (this.closed) break;
        this.logger.debug({ err: error }, 'stream read failed');
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    this.reading = false;
    if (this.closed) {
      clearTimeout(this.backstop);
      this.reader.disconnect();
    }
  }

  private heard(): void {
    const now = Date.now();
    if (now - this.lastReply > this.blockMs + READ_SLACK_MS) this.replyingSince = now;
    this.lastReply = now;
  }

  private deliver(name: string, entries: StreamEntry[]): void {
    const state = this.streams.get(name);
    if (!state || entries.length === 0) return;
    const readFrom = { position: state.position, isEntry: state.positionIsEntry };
    for (const [id, fields] of entries) {
      state.position = id;
      state.positionIsEntry = true;
      try {
        state.consumer.onEntry(id, fields);
      } catch (error) {
        this.logger.error({ err: error, stream: name, id }, 'stream entry could not be delivered');
      }
    }
    // A full batch means this node is behind: what follows may be trimmed before it gets there.
    if (entries.length >= this.readCount) state.checkFrom ??= readFrom;
    const stillWaiting: StreamState['waiters'] = [];
    for (const waiter of state.waiters) {
      if (compareStreamIds(state.position, waiter.id) >= 0) waiter.resolve(true);
      else stillWaiting.push(waiter);
    }
    state.waiters = stillWaiting;
  }

  /**
   * For each stream with a position to check: were entries after it removed before this node read
   * them? Exact on Redis 7 (XINFO's max-deleted-entry-id); on older Redis only a read position that
   * no longer exists is noticed. A stream that Redis lost (a restart without persistence) counts
   * as a gap too, and is then read from its start.
   */
  private async checkGaps(): Promise<void> {
    for (const [name, state] of this.streams) {
      const from = state.checkFrom;
      if (!from) continue;
      const info = await this.streamInfo(name);
      let gap = false;
      if (!info) {
        gap = from.isEntry;
        state.position = '0-0';
        state.positionIsEntry = false;
      } else {
        if (info.maxDeleted && compareStreamIds(info.maxDeleted, from.position) > 0) gap = true;
        if (!gap && from.isEntry) {
          const still = (await this.reader.xrange(name, from.position, from.position)) as StreamEntry[];
          gap = still.length === 0;
        }
        // A stream recreated behind our position (Redis lost it): everything in it is new to us.
        if (gap && info.lastGenerated && compareStreamIds(info.lastGenerated, state.position) < 0) {
          state.position = '0-0';
          state.positionIsEntry = false;
        }
      }
      state.checkFrom = undefined;
      if (gap) {
        this.logger.warn({ stream: name, after: from.position }, 'stream entries lost before this node read them');
        this.metrics?.clusterStreamGaps.inc();
        state.consumer.onGap();
      }
    }
  }

  private async streamInfo(name: string): Promise<{ maxDeleted?: string; lastGenerated?: string } | undefined> {
    let reply: unknown;
    try {
      reply = await this.reader.xinfo('STREAM', name);
    } catch (error) {
      if (error instanceof Error && /no such key/i.test(error.message)) return undefined;
      throw error;
    }
    const fields = Array.isArray(reply) ? (reply as unknown[]) : [];
    const value = (key: string): string | undefined => {
      const index = fields.indexOf(key);
      const found = index >= 0 ? fields[index + 1] : undefined;
      return isStreamId(found) ? found : undefined;
    };
    const maxDeleted = value('max-deleted-entry-id');
    const lastGenerated = value('last-generated-id');
    return { ...(maxDeleted ? { maxDeleted } : {}), ...(lastGenerated ? { lastGenerated } : {}) };
  }
}
