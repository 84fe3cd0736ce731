import type { Engine } from './storage/engine';
import { Rank } from './storage/values';

/**
 * Removes documents whose TTL-indexed date is older than the index's `expireAfterSeconds`, like
 * MongoDB's TTL monitor (which also runs every 60 seconds, so expiry is never exact). Expired
 * documents are found through the index itself (a range of dates up to the cutoff), and a
 * document with an array of dates expires with its earliest one, as in MongoDB.
 */
export function sweepExpired(engine: Engine, now = Date.now()): number {
  let removed = 0;
  for (const db of engine.databaseNames()) {
    for (const collection of engine.collections(db)) {
      for (const index of [...collection.indexes.values()]) {
        const ttl = index.spec.expireAfterSeconds;
        if (ttl === undefined || index.fields.length !== 1) continue;
        const cutoff = new Date(now - ttl * 1000);
        const expired = new Set<string>();
        for (const entry of index.scan({
          prefix: [],
          range: { rank: Rank.Date, upper: { value: cutoff, inclusive: true } },
        })) {
          expired.add(entry.id);
        }
        for (const id of expired) {
          const doc = collection.docs.get(id);
          if (!doc) continue;
          engine.remove(collection, doc);
          removed++;
        }
      }
    }
  }
  if (removed > 0) engine.commit();
  return removed;
}
