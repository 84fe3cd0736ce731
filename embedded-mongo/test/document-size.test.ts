import { harness, rejection, tempDir, type Harness } from './support';

const MiB = 1024 * 1024;

describe('the 16 MiB document limit', () => {
  let temp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    temp = tempDir();
  });
  afterEach(() => temp.remove());

  for (const mode of ['in memory', 'journaled'] as const) {
    describe(mode, () => {
      let h: Harness;
      const start = () => harness(mode === 'journaled' ? { dbPath: temp.dir } : {});
      beforeEach(async () => {
        h = await start();
      });
      afterEach(async () => {
        await h.close();
      });

      it('refuses an update whose result would be over 16 MiB, and keeps the document as it was', async () => {
        const c = h.db.collection<{ _id: number; parts: string[] }>('big');
        await c.insertOne({ _id: 1, parts: [] });
        const part = 'x'.repeat(3 * MiB);
        for (let i = 0; i < 5; i++) await c.updateOne({ _id: 1 }, { $push: { parts: part } });
        const error = await rejection(c.updateOne({ _id: 1 }, { $push: { parts: part } }));
        expect(error).toMatchObject({ code: 17419 });
        expect(error.message).toBe('Resulting document after update is larger than 16777216');
        await expect(c.findOneAndUpdate({ _id: 1 }, { $push: { parts: part } })).rejects.toMatchObject({
          code: 17419,
        });
        const parts = await c.aggregate([{ $project: { n: { $size: '$parts' } } }]).toArray();
        expect(parts).toEqual([{ _id: 1, n: 5 }]);
        if (mode === 'journaled') {
          await h.close();
          h = await start();
          const again = await h.db
            .collection('big')
            .aggregate([{ $project: { n: { $size: '$parts' } } }])
            .toArray();
          expect(again).toEqual([{ _id: 1, n: 5 }]);
        }
        // Later writes are unaffected.
        await h.db.collection<{ _id: number }>('big').insertOne({ _id: 2 });
        expect(await h.db.collection('big').countDocuments()).toBe(2);
      });

      it("refuses an insert over 16 MiB with MongoDB's error, and an upsert that would create one", async () => {
        const c = h.db.collection<{ _id?: number; s?: string; a?: string; b?: string }>('big');
        // Just over the limit: small enough for the driver to send, too large to store.
        const error = await rejection(c.insertOne({ s: 'x'.repeat(16 * MiB - 10) }));
        expect(error).toMatchObject({ code: 2 });
        expect(error.message).toMatch(/^object to insert too large\. size in bytes: \d+, max size: 16777216$/);
        await expect(
          c.updateOne({ a: 'x'.repeat(8 * MiB) }, { $set: { b: 'y'.repeat(8.5 * MiB) } }, { upsert: true }),
        ).rejects.toMatchObject({ code: 17420, message: 'Document to upsert is larger than 16777216' });
        // Exactly at the limit is allowed, as in MongoDB.
        // 4 (length) + 9 (_id: an int32) + 8 (type, "s\0", string length, its NUL) + 1 (the end)
        const overhead = 22;
        await c.insertOne({ _id: 1, s: 'x'.repeat(16 * MiB - overhead) });
        expect(await c.countDocuments()).toBe(1);
      });
    });
  }
});
