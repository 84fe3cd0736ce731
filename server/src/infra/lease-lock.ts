import { randomUUID } from 'node:crypto';
import { Schema, type Connection, type Model } from 'mongoose';
import { AppError, isDuplicateKeyError } from '../errors';
import { monotonicMs, type Clock } from './clock';
import { rawCollection } from './raw-collection';

interface LockDoc {
  _id: string;
  owner: string;
  expiresAt: Date;
}

export type LockModel = Model<LockDoc>;

const lockSchema = new Schema<LockDoc>(
  {
    _id: { type: String, required: true },
    owner: { type: String, required: true },
    expiresAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export function registerLockModel(connection: Connection): LockModel {
  return connection.model<LockDoc>('Lock', lockSchema, 'locks');
}

export interface LeaseOptions {
  /** How long a holder that crashed keeps others out. */
  leaseMs: number;
  /** How long to wait for a busy lock before giving up with CONFLICT. */
  waitMs: number;
  /** The CONFLICT's message when the lock stays busy. */
  busyMessage?: string;
}

const RETRY_MS = 50;

/**
 * Mutual exclusion across nodes for rare multi-document operations (merging and erasing contacts,
 * changing a project's owners),
 * which MongoDB without a replica set cannot make atomic. The lock is a document with a unique id:
 * inserting it takes the lock. A holder that dies leaves it until its lease ends; then the next
 * caller takes it over with a compare-and-set on the expiry. Operations under it are written to be
 * finished by running them again, so a lease taken over from a crashed holder is safe.
 *
 * Expiries are written and judged on the cluster's clock (see Clock), not on each node's wall
 * clock: a node whose clock jumped ahead would otherwise take over leases still held, and the
 * leases it wrote would outlive a crash by as much as it is ahead.
 */
export class LeaseLocks {
  constructor(
    private readonly locks: LockModel,
    private readonly clock: Clock,
  ) {}

  async withLock<T>(name: string, options: LeaseOptions, run: () => Promise<T>): Promise<T> {
    const owner = randomUUID();
    await this.acquire(name, owner, options);
    try {
      return await run();
    } finally {
      await this.locks.deleteOne({ _id: name, owner }).exec();
    }
  }

  private async acquire(name: string, owner: string, { leaseMs, waitMs, busyMessage }: LeaseOptions): Promise<void> {
    const deadline = monotonicMs() + waitMs;
    for (;;) {
      const now = this.clock.date();
      const expiresAt = new Date(now.getTime() + leaseMs);
      try {
        await rawCollection(this.locks).insertOne({ _id: name, owner, expiresAt });
        return;
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
      }
      const takenOver = await this.locks
        .updateOne({ _id: name, expiresAt: { $lt: now } }, { $set: { owner, expiresAt } })
        .exec();
      if (takenOver.modifiedCount === 1) return;
      if (monotonicMs() + RETRY_MS > deadline) {
        throw new AppError(
          'CONFLICT',
          busyMessage ?? 'Another change to these contacts is in progress; try again in a moment',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}
