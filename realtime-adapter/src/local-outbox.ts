import type { BroadcastOptions } from 'socket.io-adapter';
import type { BroadcastPacket } from './socket-io-internals';

/** How a broadcast finally reaches this node's sockets. */
export type Delivery =
  /** Read back from the stream: it carries its stream id as offset. */
  | { kind: 'recorded'; id: string }
  /** Delivered before it was (or without being) in the stream: it carries UNRECORDED_OFFSET. */
  | { kind: 'unrecorded' }
  /** Meant for this node only (`io.local`): no offset. */
  | { kind: 'local' };

interface Queued {
  pub: number | undefined;
  packet: BroadcastPacket;
  opts: BroadcastOptions;
  /** When it is delivered anyway if the stream has not given it back; 0: as soon as it is first. */
  deadline: number;
  local: boolean;
}

/**
 * The order in which this node's own broadcasts reach its own sockets: the order they were made,
 * always (a stall turning into a disconnect once delivered 1, 3, 2).
 *
 * A broadcast written to the stream is delivered when the reader reads it back, so that this
 * node's sockets receive own and other nodes' packets in stream order and every offset they hold
 * is exact. If Redis does not give it back within `waitMs` (down, or stalled without a reset),
 * it and everything queued behind it is delivered at once, unrecorded, and so is every later one
 * until the stream gives one back again: same-node delivery never waits on Redis for longer than
 * that, once.
 */
export class LocalOutbox {
  private readonly queue: Queued[] = [];
  /** The highest own sequence number delivered: a later read-back at or below it is a duplicate. */
  private delivered = 0;
  /** Unrecorded deliveries up to this sequence number will still appear in the stream. */
  private unrecordedUpTo = 0;
  private stalled = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deliver: (packet: BroadcastPacket, opts: BroadcastOptions, delivery: Delivery) => void,
    private readonly waitMs: number,
  ) {}

  /** Redis did not give back a broadcast in time: deliveries do not wait for it until it does. */
  get degraded(): boolean {
    return this.stalled;
  }

  /**
   * Some of this node's sockets hold packets that will appear in the stream only later: an offset
   * handed out now could make a recovery replay them a second time, so none is (see the adapter).
   */
  get tainted(): boolean {
    return this.unrecordedUpTo > 0;
  }

  /** A broadcast written to the stream as `pub`: delivered when read back, or after `waitMs`. */
  expect(pub: number, packet: BroadcastPacket, opts: BroadcastOptions): void {
    const deadline = this.stalled ? 0 : Date.now() + this.waitMs;
    this.queue.push({ pub, packet, opts, deadline, local: false });
    this.flush();
  }

  /** A broadcast that will not come back from the stream now: delivered once those before it are. */
  now(packet: BroadcastPacket, opts: BroadcastOptions, pub: number | undefined, local: boolean): void {
    this.queue.push({ pub, packet, opts, deadline: 0, local });
    this.flush();
  }

  /** The reader read this node's own entry `pub` (a broadcast or a heartbeat) at `id`. */
  readBack(pub: number, id: string): void {
    if (pub > this.unrecordedUpTo) this.unrecordedUpTo = 0;
    if (pub <= this.delivered) return;
    this.stalled = false;
    // Own entries come back in the order they were written: one before `pub` still queued was never written.
    while (this.head && (this.head.pub === undefined || this.head.pub < pub)) this.deliverHead(false);
    const head = this.head;
    if (head && head.pub === pub) {
      this.queue.shift();
      this.delivered = pub;
      this.deliver(head.packet, head.opts, { kind: 'recorded', id });
    }
    this.delivered = Math.max(this.delivered, pub);
    this.flush();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private get head(): Queued | undefined {
    return this.queue[0];
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    while (this.head && this.head.deadline <= now) this.deliverHead(this.head.deadline !== 0);
    const head = this.head;
    if (!head) return;
    this.timer = setTimeout(() => this.flush(), Math.max(1, head.deadline - now));
    this.timer.unref();
  }

  private deliverHead(timedOut: boolean): void {
    const entry = this.queue.shift() as Queued;
    if (timedOut) this.stalled = true;
    if (entry.pub !== undefined) {
      this.delivered = Math.max(this.delivered, entry.pub);
      if (!entry.local) this.unrecordedUpTo = Math.max(this.unrecordedUpTo, entry.pub);
    }
    this.deliver(entry.packet, entry.opts, entry.local ? { kind: 'local' } : { kind: 'unrecorded' });
  }
}
