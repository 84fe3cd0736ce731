import type { mongo } from 'mongoose';

interface Waiting {
  filter: Record<string, unknown>;
  update: Record<string, unknown>;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Single-document updates issued in the same turn of the event loop, written in one unordered
 * bulkWrite: a node finishing many deliveries at once pays one round trip, not one each. Each
 * caller's promise settles when the write that carries its update has returned.
 */
export class UpdateBatcher<T extends object> {
  private queue: Waiting[] = [];
  private scheduled = false;

  constructor(private readonly collection: mongo.Collection<T>) {}

  updateOne(filter: Record<string, unknown>, update: Record<string, unknown>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ filter, update, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    try {
      await this.collection.bulkWrite(
        batch.map(({ filter, update }) => ({ updateOne: { filter, update } }) as mongo.AnyBulkWriteOperation<T>),
        { ordered: false },
      );
      for (const waiting of batch) waiting.resolve();
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    }
  }
}
