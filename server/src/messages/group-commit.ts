/**
 * Group commit: requests that arrive while a batch is being written wait and go together in the
 * next one, so a busy server makes one database round trip for many messages instead of one each,
 * and an idle one still writes a lone message at once (after a single `setImmediate`, which lets
 * every frame already read from the sockets join it).
 *
 * A batch never holds two requests with the same key: the second waits for the next batch, so each
 * key's requests are written one batch after another, in arrival order.
 */
export class GroupCommit<T extends { key: string }> {
  private queue: T[] = [];
  private running = 0;
  private scheduled = false;

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
      this.running++;
      // `write` settles each request itself; a throw here is a bug, and it must not stall the queue.
      void this.write(batch)
        .catch(() => undefined)
        .finally(() => {
          this.running--;
          this.schedule();
        });
    }
  }

  /** Up to `maxBatch` requests with distinct keys, oldest first; the rest keep their order. */
  private take(): T[] {
    const batch: T[] = [];
    const keys = new Set<string>();
    const rest: T[] = [];
    for (const request of this.queue) {
      if (batch.length < this.options.maxBatch && !keys.has(request.key)) {
        keys.add(request.key);
        batch.push(request);
      } else {
        rest.push(request);
      }
    }
    this.queue = rest;
    return batch;
  }
}
