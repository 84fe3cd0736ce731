/**
 * Group commit: requests that arrive while a batch is being written wait and go together in the
 * next one, so a busy server makes one database round trip for many messages instead of one each,
 * and an idle one still writes a lone message at once (after a single `setImmediate`, which lets
 * every frame already read from the sockets join it).
 *
 * Requests with the same key (one conversation) stay in arrival order: a batch takes all that are
 * waiting for a key, in order, but never while another batch with that key is still being written.
 * So a key's requests are written one batch after another, and the writer of a batch always knows
 * where the previous one ended.
 */
export class GroupCommit<T extends { key: string }> {
  private queue: T[] = [];
  private running = 0;
  private scheduled = false;
  /** Keys of the batches being written. */
  private readonly busy = new Set<string>();

  constructor(
    private readonly write: (batch: T[]) => Promise<void>,
    private readonly options: { maxBatch: number; maxInFlight: number },
  ) {}

  submit(request: T): void {
    this.queue.push(request);
    this.schedule();
  }

  get pending(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled || this.running >= this.options.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.startBatches();
    });
  }

  private startBatches(): void {
    while (this.running < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      if (batch.length === 0) return; // every waiting key is being written; its batch will reschedule
      const keys = new Set(batch.map((r) => r.key));
      for (const key of keys) this.busy.add(key);
      this.running++;
      // `write` settles each request itself; a throw here is a bug, and it must not stall the queue.
      void this.write(batch)
        .catch(() => undefined)
        .finally(() => {
          for (const key of keys) this.busy.delete(key);
          this.running--;
          this.schedule();
        });
    }
  }

  /**
   * Up to `maxBatch` requests, oldest first, of keys not being written; the rest keep their order.
   * A key left behind (busy, or the batch full) has all its later requests left behind too, since
   * they come after it: its order holds.
   */
  private take(): T[] {
    const batch: T[] = [];
    const rest: T[] = [];
    for (const request of this.queue) {
      if (batch.length < this.options.maxBatch && !this.busy.has(request.key)) batch.push(request);
      else rest.push(request);
    }
    this.queue = rest;
    return batch;
  }
}
