import { Engine } from '../src/storage/engine';
import { sweepExpired } from '../src/ttl-monitor';

/** The TTL sweep itself runs every minute; here it is called directly with a chosen clock. */
describe('TTL indexes', () => {
  it('removes documents whose date is older than expireAfterSeconds, through the index', () => {
    const engine = new Engine();
    const sessions = engine.createCollection('db', 'sessions', {});
    engine.createIndex(sessions, { name: 'seenAt_1', key: { seenAt: 1 }, expireAfterSeconds: 60 });
    const now = Date.parse('2025-01-01T00:10:00Z');
    const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000);
    engine.insert(sessions, { _id: 'old', seenAt: at(5) });
    engine.insert(sessions, { _id: 'edge', seenAt: at(1) });
    engine.insert(sessions, { _id: 'fresh', seenAt: at(0.5) });
    engine.insert(sessions, { _id: 'array', seenAt: [at(0), at(30)] });
    engine.insert(sessions, { _id: 'notADate', seenAt: 'yesterday' });
    engine.insert(sessions, { _id: 'missing' });
    expect(sweepExpired(engine, now)).toBe(3);
    expect([...sessions.docs.values()].map((d) => d['_id']).sort()).toEqual(['fresh', 'missing', 'notADate']);
    // Compound indexes never expire anything, as in MongoDB.
    const other = engine.createCollection('db', 'other', {});
    engine.createIndex(other, { name: 'a_1_at_1', key: { a: 1, at: 1 }, expireAfterSeconds: 1 });
    engine.insert(other, { a: 1, at: at(100) });
    expect(sweepExpired(engine, now)).toBe(0);
  });
});
