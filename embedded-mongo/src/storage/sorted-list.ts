/**
 * An ordered list with O(log n + B) insert and remove: sorted buckets of at most `2·B` items (the
 * layout of Python's sortedcontainers). Index entries live here, so inserting into a large
 * collection costs about the same as into a small one, and a range is found by binary search and
 * read in order, forwards or backwards.
 */
const BUCKET = 256;

/** A place between items: before item `i` of bucket `b` (`i` may equal the bucket's length at the end). */
export interface Position {
  b: number;
  i: number;
}

/** Where an item lies relative to a bound: negative before it, 0 on it, positive after it. */
export type Probe<T> = (item: T) => number;

export class SortedList<T> {
  private buckets: T[][] = [];
  private count = 0;
  /** Comparisons made, for tests that check an operation's cost by counting work, never by timing. */
  comparisons = 0;

  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.count;
  }

  insert(item: T): void {
    if (this.buckets.length === 0) {
      this.buckets.push([item]);
      this.count = 1;
      return;
    }
    let b = this.buckets.length - 1;
    let bucket = this.buckets[b] as T[];
    // Keys that only grow (ObjectIds, timestamps, counters) land after the last item: one comparison.
    this.comparisons++;
    if (this.compare(bucket[bucket.length - 1] as T, item) < 0) bucket.push(item);
    else {
      const probe = (x: T) => this.compare(x, item);
      b = this.bucketFor(probe, false);
      bucket = this.buckets[b] as T[];
      bucket.splice(this.lowerBound(bucket, probe, false), 0, item);
    }
    this.count++;
    if (bucket.length > 2 * BUCKET) this.buckets.splice(b, 1, bucket.slice(0, BUCKET), bucket.slice(BUCKET));
  }

  /** Removes the item comparing equal to `item`; false when absent. */
  remove(item: T): boolean {
    if (this.buckets.length === 0) return false;
    const probe = (x: T) => this.compare(x, item);
    const b = this.bucketFor(probe, false);
    const bucket = this.buckets[b] as T[];
    const i = this.lowerBound(bucket, probe, false);
    if (i >= bucket.length || this.compare(bucket[i] as T, item) !== 0) return false;
    bucket.splice(i, 1);
    this.count--;
    if (bucket.length === 0) this.buckets.splice(b, 1);
    return true;
  }

  /** The first position whose item is not before the bound (`after`: strictly after it). */
  seek(probe: Probe<T>, after = false): Position {
    if (this.buckets.length === 0) return { b: 0, i: 0 };
    const b = this.bucketFor(probe, after);
    const bucket = this.buckets[b] as T[];
    return this.normalize({ b, i: this.lowerBound(bucket, probe, after) });
  }

  start(): Position {
    return { b: 0, i: 0 };
  }

  end(): Position {
    return { b: this.buckets.length, i: 0 };
  }

  /** How many items lie between two positions. */
  distance(from: Position, to: Position): number {
    return Math.max(0, this.absolute(to) - this.absolute(from));
  }

  /** Items from `from` (inclusive) to `to` (exclusive), in order or, with `reverse`, backwards. */
  *range(from: Position, to: Position, reverse = false): Generator<T> {
    if (!reverse) {
      let { b, i } = this.normalize(from);
      const end = this.normalize(to);
      while (b < end.b || (b === end.b && i < end.i)) {
        const bucket = this.buckets[b] as T[];
        if (i >= bucket.length) {
          b++;
          i = 0;
          continue;
        }
        yield bucket[i++] as T;
      }
      return;
    }
    const start = this.normalize(from);
    let { b, i } = this.normalize(to);
    while (b > start.b || (b === start.b && i > start.i)) {
      if (i === 0) {
        b--;
        i = (this.buckets[b] as T[]).length;
        continue;
      }
      yield (this.buckets[b] as T[])[--i] as T;
    }
  }

  clear(): void {
    this.buckets = [];
    this.count = 0;
  }

  private absolute(position: Position): number {
    let n = 0;
    for (let b = 0; b < position.b && b < this.buckets.length; b++) n += (this.buckets[b] as T[]).length;
    return n + position.i;
  }

  /** A position at the end of a bucket is the start of the next one. */
  private normalize(position: Position): Position {
    const bucket = this.buckets[position.b];
    if (bucket && position.i >= bucket.length) return { b: position.b + 1, i: 0 };
    return position;
  }

  /** The first bucket whose last item is not before the bound (or the last bucket). */
  private bucketFor(probe: Probe<T>, after: boolean): number {
    let lo = 0;
    let hi = this.buckets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const bucket = this.buckets[mid] as T[];
      if (this.before(probe(bucket[bucket.length - 1] as T), after)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private lowerBound(items: T[], probe: Probe<T>, after: boolean): number {
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.before(probe(items[mid] as T), after)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private before(c: number, after: boolean): boolean {
    this.comparisons++;
    return after ? c <= 0 : c < 0;
  }
}
