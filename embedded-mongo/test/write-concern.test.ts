import fs from 'node:fs';
import { harness, rejection, tempDir, type Harness } from './support';

describe('write concern', () => {
  let temp: ReturnType<typeof tempDir>;
  let h: Harness;
  beforeEach(() => {
    temp = tempDir();
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await h.close();
    temp.remove();
  });

  it('refuses what a standalone mongod refuses, before doing anything', async () => {
    h = await harness();
    const c = h.db.collection<{ _id: number; a?: number }>('c');
    const w2 = await rejection(c.insertOne({ _id: 1 }, { writeConcern: { w: 2 } }));
    expect(w2).toMatchObject({ code: 2, message: "cannot use 'w' > 1 when a host is not replicated" });
    await expect(
      c.updateOne({ _id: 1 }, { $set: { a: 1 } }, { upsert: true, writeConcern: { w: 3 } }),
    ).rejects.toMatchObject({
      code: 2,
    });
    const tag = await rejection(c.deleteMany({}, { writeConcern: { w: 'dc1' as never } }));
    expect(tag).toMatchObject({
      code: 2,
      message: 'cannot use non-majority \'w\' mode "dc1" when a host is not a member of a replica set',
    });
    await expect(
      h.db.command({ insert: 'c', documents: [{ _id: 2 }], writeConcern: { w: 1, x: 1 } }),
    ).rejects.toMatchObject({ code: 9, message: 'unrecognized write concern field: x' });
    // Without a data directory there is no journal to wait for, as on an in-memory mongod.
    const j = await rejection(c.insertOne({ _id: 3 }, { writeConcern: { j: true } }));
    expect(j).toMatchObject({ code: 2, message: "cannot use 'j' option when a host does not have journaling enabled" });
    expect(await c.countDocuments()).toBe(0);
    // What a standalone accepts.
    await c.insertOne({ _id: 4 }, { writeConcern: { w: 1, wtimeoutMS: 100 } });
    await c.insertOne({ _id: 5 }, { writeConcern: { w: 'majority' } });
    expect(await c.countDocuments()).toBe(2);
  });

  it('fsyncs the journal before answering a j: true write, and only then', async () => {
    h = await harness({ dbPath: temp.dir });
    const c = h.db.collection<{ _id: number; a?: number }>('c');
    await c.insertOne({ _id: 0 });
    const fsyncs = jest.spyOn(fs, 'fsyncSync');
    await c.insertOne({ _id: 1 });
    await c.updateOne({ _id: 1 }, { $set: { a: 1 } });
    expect(fsyncs).not.toHaveBeenCalled();
    await c.insertOne({ _id: 2 }, { writeConcern: { j: true } });
    // The journal, and once its directory entry (the file is new).
    expect(fsyncs).toHaveBeenCalledTimes(2);
    await c.updateOne({ _id: 2 }, { $set: { a: 1 } }, { writeConcern: { w: 'majority', j: true } });
    await c.deleteOne({ _id: 0 }, { writeConcern: { fsync: true } as never });
    expect(fsyncs).toHaveBeenCalledTimes(4);
    expect(await c.countDocuments()).toBe(2);
  });
});
