import { Cursors } from '../src/cursors';

/** Cursor bookkeeping, with a chosen clock instead of waiting ten minutes. */
describe('cursors', () => {
  const docs = Array.from({ length: 10 }, (_, i) => ({ i }));

  it('reaps cursors idle for more than ten minutes, except noCursorTimeout ones', () => {
    const cursors = new Cursors();
    try {
      const idle = cursors.first('db.c', docs, { batchSize: 2 });
      const pinned = cursors.first('db.c', docs, { batchSize: 2, noTimeout: true });
      const used = cursors.first('db.c', docs, { batchSize: 2 });
      expect(cursors.size).toBe(3);
      const usedId = (used['cursor'] as { id: { toString(): string } }).id;
      cursors.more(Number(usedId.toString()), 'db.c', 1);
      expect(cursors.reap(Date.now() + 9 * 60_000)).toBe(0);
      expect(cursors.reap(Date.now() + 11 * 60_000)).toBe(2);
      expect(cursors.size).toBe(1);
      const pinnedId = Number((pinned['cursor'] as { id: { toString(): string } }).id.toString());
      expect(cursors.more(pinnedId, 'db.c')).toMatchObject({ cursor: { nextBatch: docs.slice(2) } });
      const idleId = Number((idle['cursor'] as { id: { toString(): string } }).id.toString());
      expect(() => cursors.more(idleId, 'db.c')).toThrow(/not found/);
    } finally {
      cursors.close();
    }
  });

  it('closes a cursor when its last batch is sent, and refuses a getMore on another namespace', () => {
    const cursors = new Cursors();
    try {
      const reply = cursors.first('db.c', docs, { batchSize: 4 });
      const id = Number((reply['cursor'] as { id: { toString(): string } }).id.toString());
      expect(() => cursors.more(id, 'db.other')).toThrow(/belongs to db.c/);
      expect(String((cursors.more(id, 'db.c', 4)['cursor'] as { id: unknown }).id)).not.toBe('0');
      expect(String((cursors.more(id, 'db.c', 4)['cursor'] as { id: unknown }).id)).toBe('0');
      expect(cursors.size).toBe(0);
      expect(String((cursors.first('db.c', docs, { batchSize: 10 })['cursor'] as { id: unknown }).id)).toBe('0');
      expect(
        String((cursors.first('db.c', docs, { batchSize: 3, singleBatch: true })['cursor'] as { id: unknown }).id),
      ).toBe('0');
    } finally {
      cursors.close();
    }
  });
});
