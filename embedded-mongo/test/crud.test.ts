import { Decimal128, Long, ObjectId, type Document } from 'mongodb';
import { harness, type Harness } from './support';

describe('CRUD through the official driver', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.close());

  it('inserts, finds, updates and deletes', async () => {
    const c = h.db.collection('crud');
    const inserted = await c.insertMany([
      { name: 'a', n: 1 },
      { name: 'b', n: 2 },
      { name: 'c', n: 3 },
    ]);
    expect(inserted.insertedCount).toBe(3);
    expect(await c.findOne({ name: 'b' })).toMatchObject({ name: 'b', n: 2 });
    const first = await c.findOne({});
    expect(Object.keys(first ?? {})[0]).toBe('_id');
    expect((await c.updateOne({ name: 'b' }, { $set: { n: 20 } })).modifiedCount).toBe(1);
    expect((await c.updateOne({ name: 'b' }, { $set: { n: 20 } })).modifiedCount).toBe(0);
    expect((await c.updateMany({ n: { $lt: 10 } }, { $inc: { n: 100 } })).modifiedCount).toBe(2);
    expect((await c.find({}).sort({ n: 1 }).toArray()).map((d) => d['n'])).toEqual([20, 101, 103]);
    expect((await c.deleteOne({ name: 'a' })).deletedCount).toBe(1);
    expect((await c.deleteMany({})).deletedCount).toBe(2);
    expect(await c.countDocuments()).toBe(0);
  });

  it('projects, sorts, skips and limits', async () => {
    const c = h.db.collection('shape');
    await c.insertMany(
      Array.from({ length: 10 }, (_, i) => ({ i, even: i % 2 === 0, nested: { sq: i * i }, tags: [`t${i}`] })),
    );
    const page = await c
      .find({ even: true }, { projection: { _id: 0, i: 1, 'nested.sq': 1 } })
      .sort({ i: -1 })
      .skip(1)
      .limit(2)
      .toArray();
    expect(page).toEqual([
      { i: 6, nested: { sq: 36 } },
      { i: 4, nested: { sq: 16 } },
    ]);
    const excluded = await c.findOne({ i: 3 }, { projection: { nested: 0, tags: 0 } });
    expect(Object.keys(excluded ?? {}).sort()).toEqual(['_id', 'even', 'i']);
    expect(await c.find({ tags: 't7' }).toArray()).toHaveLength(1);
    expect(await c.find({ i: { $in: [1, 2, 99] } }).toArray()).toHaveLength(2);
    expect(await c.find({ $or: [{ i: 1 }, { 'nested.sq': 81 }] }).toArray()).toHaveLength(2);
  });

  it('reads a large result across batches with getMore, and kills cursors', async () => {
    const c = h.db.collection('batches');
    await c.insertMany(Array.from({ length: 1000 }, (_, i) => ({ i })));
    const all = await c.find({}, { batchSize: 64 }).sort({ i: 1 }).toArray();
    expect(all.map((d) => d['i'])).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const cursor = c.find({}, { batchSize: 10 });
    expect(await cursor.next()).toBeTruthy();
    await cursor.close();
    const single = await h.db.command({ find: 'batches', filter: {}, limit: -5 });
    expect(single['cursor'].firstBatch).toHaveLength(5);
    expect(String(single['cursor'].id)).toBe('0');
    await expect(h.db.command({ getMore: Long.fromNumber(987654), collection: 'batches' })).rejects.toMatchObject({
      code: 43,
    });
  });

  it('supports every update operator it claims', async () => {
    const c = h.db.collection('operators');
    const { insertedId } = await c.insertOne({
      a: 1,
      b: 5,
      arr: [1, 2, 3],
      set: ['x'],
      objs: [
        { k: 1, v: 'a' },
        { k: 2, v: 'b' },
      ],
      old: 'rename me',
      gone: true,
      when: new Date('2020-01-01'),
    });
    await c.updateOne(
      { _id: insertedId },
      {
        $set: { 'deep.er': 1 },
        $unset: { gone: '' },
        $inc: { a: 2 },
        $mul: { b: 3 },
        $rename: { old: 'renamed' },
        $currentDate: { touched: true },
      },
    );
    await c.updateOne({ _id: insertedId }, {
      $min: { a: 0 },
      $max: { b: 100 },
      $push: { arr: { $each: [4, 5], $slice: -4 } },
      $addToSet: { set: { $each: ['x', 'y'] } },
    } as never);
    await c.updateOne({ _id: insertedId }, { $pull: { arr: { $gte: 5 } }, $pop: { set: -1 } } as never);
    await c.updateOne({ _id: insertedId }, { $pullAll: { arr: [2] } } as never);
    await c.updateOne({ _id: insertedId, 'objs.k': 2 }, { $set: { 'objs.$.v': 'B' } });
    await c.updateOne({ _id: insertedId }, { $inc: { 'objs.$[o].k': 10 } }, { arrayFilters: [{ 'o.k': 1 }] });
    const doc = await c.findOne({ _id: insertedId });
    expect(doc).toMatchObject({
      a: 0,
      b: 100,
      arr: [3, 4],
      set: ['y'],
      deep: { er: 1 },
      renamed: 'rename me',
      objs: [
        { k: 11, v: 'a' },
        { k: 2, v: 'B' },
      ],
    });
    expect(doc?.['gone']).toBeUndefined();
    expect(doc?.['old']).toBeUndefined();
    expect(doc?.['touched']).toBeInstanceOf(Date);
  });

  it("upserts with the filter's equality fields and $setOnInsert", async () => {
    const c = h.db.collection('upserts');
    const first = await c.updateOne(
      { key: 'k1', 'meta.kind': 'x', n: { $gt: 1 } },
      { $setOnInsert: { created: true }, $set: { seen: 1 } },
      { upsert: true },
    );
    expect(first.upsertedCount).toBe(1);
    expect(await c.findOne({ key: 'k1' })).toMatchObject({ key: 'k1', meta: { kind: 'x' }, created: true, seen: 1 });
    const second = await c.updateOne(
      { key: 'k1' },
      { $setOnInsert: { created: false }, $set: { seen: 2 } },
      { upsert: true },
    );
    expect(second.upsertedCount).toBe(0);
    expect(await c.findOne({ key: 'k1' })).toMatchObject({ created: true, seen: 2 });
    const replaced = await c.replaceOne({ key: 'k2' }, { key: 'k2', whole: true }, { upsert: true });
    expect(replaced.upsertedId).toBeInstanceOf(ObjectId);
    await expect(c.updateOne({ key: 'k2' }, { $set: { _id: new ObjectId() } })).rejects.toMatchObject({ code: 66 });
    // An upsert may choose the new document's _id.
    await c.updateOne({ key: 'k3' }, { $setOnInsert: { _id: 'chosen' as never, v: 1 } }, { upsert: true });
    expect(await c.findOne({ _id: 'chosen' as never })).toMatchObject({ key: 'k3', v: 1 });
  });

  it('does findAndModify: new, upsert, remove, sort, fields', async () => {
    const c = h.db.collection('fam');
    await c.insertMany([
      { q: 1, v: 'a', p: 3 },
      { q: 1, v: 'b', p: 1 },
    ]);
    const before = await c.findOneAndUpdate(
      { q: 1 },
      { $set: { touched: true } },
      { sort: { p: 1 }, returnDocument: 'before', includeResultMetadata: true },
    );
    expect(before.value).toMatchObject({ v: 'b' });
    expect(before.value?.['touched']).toBeUndefined();
    expect(before.lastErrorObject).toMatchObject({ n: 1, updatedExisting: true });
    const after = await c.findOneAndUpdate(
      { v: 'a' },
      { $inc: { p: 1 } },
      { returnDocument: 'after', projection: { p: 1, _id: 0 } },
    );
    expect(after).toEqual({ p: 4 });
    const upserted = await c.findOneAndUpdate(
      { v: 'z' },
      { $set: { p: 9 } },
      { upsert: true, returnDocument: 'after', includeResultMetadata: true },
    );
    expect(upserted.lastErrorObject).toMatchObject({ n: 1, updatedExisting: false, upserted: expect.any(ObjectId) });
    expect(upserted.value).toMatchObject({ v: 'z', p: 9 });
    const removed = await c.findOneAndDelete({ v: 'z' });
    expect(removed).toMatchObject({ v: 'z' });
    expect(await c.findOneAndUpdate({ v: 'nope' }, { $set: { x: 1 } })).toBeNull();
  });

  it('counts, distincts and aggregates', async () => {
    const c = h.db.collection('agg');
    const owners = [new ObjectId(), new ObjectId()];
    await c.insertMany([
      { owner: owners[0], kind: 'x', n: 1, tags: ['a', 'b'] },
      { owner: owners[0], kind: 'y', n: 2, tags: ['b'] },
      { owner: owners[1], kind: 'x', n: 5, tags: [] },
    ]);
    await h.db.collection('owners').insertMany([
      { _id: owners[0], name: 'first' },
      { _id: owners[1], name: 'second' },
    ]);
    expect(await c.countDocuments({ kind: 'x' })).toBe(2);
    expect(await c.estimatedDocumentCount()).toBe(3);
    expect((await c.distinct('tags')).sort()).toEqual(['a', 'b']);
    expect((await c.distinct('kind', { n: { $gt: 1 } })).sort()).toEqual(['x', 'y']);
    const grouped = await c
      .aggregate([
        { $match: { n: { $gte: 1 } } },
        { $group: { _id: '$owner', total: { $sum: '$n' } } },
        { $sort: { total: -1 } },
      ])
      .toArray();
    expect(grouped).toEqual([
      { _id: owners[1], total: 5 },
      { _id: owners[0], total: 3 },
    ]);
    expect(grouped[0]?._id).toBeInstanceOf(ObjectId);
    const joined = await c
      .aggregate([
        { $match: { kind: 'x' } },
        { $lookup: { from: 'owners', localField: 'owner', foreignField: '_id', as: 'o' } },
        { $unwind: '$o' },
        { $project: { _id: 0, n: 1, name: '$o.name' } },
        { $sort: { n: 1 } },
      ])
      .toArray();
    expect(joined).toEqual([
      { n: 1, name: 'first' },
      { n: 5, name: 'second' },
    ]);
    expect(await c.aggregate([{ $match: { kind: 'x' } }, { $count: 'n' }]).toArray()).toEqual([{ n: 2 }]);
    expect(await c.aggregate([{ $skip: 1 }, { $limit: 1 }, { $project: { _id: 0, n: 1 } }]).toArray()).toEqual([
      { n: 2 },
    ]);
  });

  it('keeps BSON types: ObjectId, Date, Long, Decimal128, Binary, null vs missing', async () => {
    const c = h.db.collection('types');
    const id = new ObjectId();
    const when = new Date('2024-05-06T07:08:09.010Z');
    await c.insertOne({
      _id: id,
      when,
      big: Long.fromString('9007199254740993'),
      dec: Decimal128.fromString('1.10'),
      bin: Buffer.from('hi'),
      nothing: null,
    });
    await c.insertOne({ other: true });
    const doc = await c.findOne({ _id: new ObjectId(id.toHexString()) });
    expect(doc?.['when']).toEqual(when);
    expect(String(doc?.['big'])).toBe('9007199254740993');
    expect(String(doc?.['dec'])).toBe('1.10');
    expect(Buffer.from(doc?.['bin'].buffer).toString()).toBe('hi');
    expect(await c.countDocuments({ nothing: null })).toBe(2);
    expect(await c.countDocuments({ nothing: { $exists: true } })).toBe(1);
    expect(await c.countDocuments({ when: { $gt: new Date('2024-01-01') } })).toBe(1);
    expect(await c.countDocuments({ _id: { $in: [new ObjectId(id.toHexString()), new ObjectId()] } })).toBe(1);
  });

  it('creates a collection on a first write, not on an update or delete that matches nothing', async () => {
    await h.db.collection('ghost').updateOne({ a: 1 }, { $set: { b: 2 } });
    await h.db.collection('ghost').deleteMany({});
    await h.db.collection('ghost').findOneAndUpdate({ a: 1 }, { $set: { b: 2 } });
    expect(await h.db.listCollections({ name: 'ghost' }).toArray()).toEqual([]);
    await h.db.collection('ghost').updateOne({ a: 1 }, { $set: { b: 2 } }, { upsert: true });
    expect((await h.db.listCollections({ name: 'ghost' }).toArray()).map((c) => c.name)).toEqual(['ghost']);
  });

  it('creates, lists and drops collections and databases', async () => {
    const other = h.client.db('other');
    await other.createCollection('made');
    // As MongoDB 7.0 does, creating it again with the same (no) options succeeds.
    await other.createCollection('made');
    expect((await other.listCollections().toArray()).map((c) => c.name)).toEqual(['made']);
    expect((await h.client.db('admin').admin().listDatabases()).databases.map((d) => d.name)).toContain('other');
    expect(await other.collection('made').drop()).toBe(true);
    await other.collection('again').insertOne({ x: 1 });
    await other.dropDatabase();
    expect(await other.listCollections().toArray()).toEqual([]);
  });
  it("returns projected fields in MongoDB's order: kept fields as stored (_id first), then computed ones", async () => {
    const c = h.db.collection('order');
    await c.insertOne({
      _id: 1 as never,
      a: { b: 1, c: 2 },
      x: 1,
      y: 2,
      arr: [
        { b: 1, c: 1 },
        { c: 2, b: 2 },
      ],
    });
    // Key order is what JSON shows and what toEqual ignores, so compare it as JSON.
    const find = async (projection: Document) => JSON.stringify(await c.findOne({}, { projection }));
    const project = async (spec: Document) => JSON.stringify((await c.aggregate([{ $project: spec }]).toArray())[0]);
    expect(await find({ 'a.b': 1 })).toBe('{"_id":1,"a":{"b":1}}');
    expect(await find({ y: 1, x: 1 })).toBe('{"_id":1,"x":1,"y":2}');
    expect(await find({ a: { c: 1, b: 1 } })).toBe('{"_id":1,"a":{"b":1,"c":2}}');
    expect(await find({ 'arr.c': 1, 'arr.b': 1 })).toBe('{"_id":1,"arr":[{"b":1,"c":1},{"c":2,"b":2}]}');
    expect(await find({ y: 1, q: { $add: ['$x', 1] }, x: 1 })).toBe('{"_id":1,"x":1,"y":2,"q":2}');
    expect(await find({ x: { $add: ['$x', 1] }, y: 1 })).toBe('{"_id":1,"y":2,"x":2}');
    expect(await find({ y: 0 })).toBe('{"_id":1,"a":{"b":1,"c":2},"x":1,"arr":[{"b":1,"c":1},{"c":2,"b":2}]}');
    expect(await project({ y: 1, x: 1 })).toBe('{"_id":1,"x":1,"y":2}');
    expect(await project({ 'a.c': 1, q: '$x', x: 1 })).toBe('{"_id":1,"a":{"c":2},"x":1,"q":1}');
    expect(await project({ q: '$y', _id: 0, x: 1 })).toBe('{"x":1,"q":2}');
    const [after] = await c
      .aggregate([{ $match: { x: 1 } }, { $project: { y: 1, x: 1 } }, { $project: { x: 1 } }])
      .toArray();
    expect(JSON.stringify(after)).toBe('{"_id":1,"x":1}');
  });

  it('projects like MongoDB: nested specs, $slice, $elemMatch, positional, expressions', async () => {
    const c = h.db.collection('projection');
    await c.insertOne({
      _id: 1 as never,
      a: { b: 1, c: 2 },
      n: [1, 2, 3, 4],
      objs: [{ k: 1 }, { k: 2 }, { k: 3 }],
      s: 'x',
    });
    const one = (projection: Document, filter: Document = {}) => c.findOne(filter, { projection });
    expect(await one({ a: { b: 1 } })).toEqual({ _id: 1, a: { b: 1 } });
    expect(await one({ 'a.c': 0, n: 0, objs: 0 })).toEqual({ _id: 1, a: { b: 1 }, s: 'x' });
    // $slice alone keeps every other field.
    expect(await one({ n: { $slice: 2 } })).toEqual({
      _id: 1,
      a: { b: 1, c: 2 },
      n: [1, 2],
      objs: [{ k: 1 }, { k: 2 }, { k: 3 }],
      s: 'x',
    });
    expect(await one({ n: { $slice: [1, 2] }, s: 1, _id: 0 })).toEqual({ n: [2, 3], s: 'x' });
    expect(await one({ objs: { $elemMatch: { k: { $gt: 1 } } } })).toEqual({ _id: 1, objs: [{ k: 2 }] });
    expect(await one({ 'objs.$': 1 }, { 'objs.k': 3 })).toEqual({ _id: 1, objs: [{ k: 3 }] });
    expect(await one({ _id: 0, upper: { $toUpper: '$s' }, lit: { $literal: 5 } })).toEqual({ upper: 'X', lit: 5 });
    await expect(one({ a: 1, s: 0 })).rejects.toMatchObject({ code: 2 });
    await expect(one({ score: { $meta: 'textScore' } })).rejects.toMatchObject({ code: 115 });
    // Projections never change the stored document (mingo's exclusions work in place).
    expect(await c.findOne({ _id: 1 as never })).toEqual({
      _id: 1,
      a: { b: 1, c: 2 },
      n: [1, 2, 3, 4],
      objs: [{ k: 1 }, { k: 2 }, { k: 3 }],
      s: 'x',
    });
  });

  it('serves each cursor from a snapshot: later writes do not change a batch being read', async () => {
    const c = h.db.collection('snapshot');
    await c.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: i as never, v: 'original' })));
    const cursor = c.find({}).sort({ _id: 1 }).batchSize(10);
    const firstTen: Document[] = [];
    for (let i = 0; i < 10; i++) firstTen.push((await cursor.next()) as Document);
    await c.updateMany({}, { $set: { v: 'changed' } });
    await c.deleteMany({ _id: { $gte: 20 } as never });
    const rest = await cursor.toArray();
    expect([...firstTen, ...rest].map((d) => d['v'])).toEqual(Array.from({ length: 30 }, () => 'original'));
    expect(await c.countDocuments({ v: 'changed' })).toBe(20);
  });

  it('follows MongoDB batch rules: 101 first, getMore returns the rest, killCursors reports', async () => {
    const c = h.db.collection('batches2');
    await c.insertMany(Array.from({ length: 250 }, (_, i) => ({ i })));
    const first = await h.db.command({ find: 'batches2', filter: {} }, { promoteLongs: false });
    expect(first['cursor'].firstBatch).toHaveLength(101);
    expect(first['cursor'].ns).toBe('test.batches2');
    const id = first['cursor'].id as Long;
    expect(id).toBeInstanceOf(Long);
    const more = await h.db.command({ getMore: id, collection: 'batches2' });
    expect(more['cursor'].nextBatch).toHaveLength(149);
    expect(String(more['cursor'].id)).toBe('0');
    const open = await h.db.command({ find: 'batches2', filter: {}, batchSize: 5 });
    const killed = await h.db.command({
      killCursors: 'batches2',
      cursors: [open['cursor'].id, Long.fromNumber(12345)],
    });
    expect(killed['cursorsKilled'].map(String)).toEqual([String(open['cursor'].id)]);
    expect(killed['cursorsNotFound'].map(String)).toEqual(['12345']);
    await expect(h.db.command({ getMore: open['cursor'].id, collection: 'batches2' })).rejects.toMatchObject({
      code: 43,
    });
    const exact = await h.db.command({ find: 'batches2', filter: {}, batchSize: 250 });
    expect(String(exact['cursor'].id)).toBe('0');
    const limited = await h.db.command({ find: 'batches2', filter: {}, limit: 150, batchSize: 100 });
    const rest = await h.db.command({ getMore: limited['cursor'].id, collection: 'batches2', batchSize: 100 });
    expect(rest['cursor'].nextBatch).toHaveLength(50);
    expect(String(rest['cursor'].id)).toBe('0');
  });

  it('counts with skip and limit, and distinct flattens arrays', async () => {
    const c = h.db.collection('counting');
    await c.insertMany([
      { g: 'a', tags: ['x', 'y'], sub: { k: 1 } },
      { g: 'a', tags: ['y', 'z'], sub: { k: 2 } },
      { g: 'b', tags: 'x', sub: { k: 1 } },
      { g: 'b' },
    ]);
    expect((await h.db.command({ count: 'counting', query: { g: 'a' } }))['n']).toBe(2);
    expect((await h.db.command({ count: 'counting', skip: 1, limit: 2 }))['n']).toBe(2);
    expect((await h.db.command({ count: 'counting', skip: 3 }))['n']).toBe(1);
    expect((await h.db.command({ count: 'nothing-here' }))['n']).toBe(0);
    expect(await c.countDocuments({}, { skip: 1, limit: 2 })).toBe(2);
    expect(await c.distinct('tags')).toEqual(['x', 'y', 'z']);
    expect(await c.distinct('sub.k', { g: 'a' })).toEqual([1, 2]);
    expect(await c.distinct('nope')).toEqual([]);
  });

  it('finds with sort, skip and limit over arrays and missing fields', async () => {
    const c = h.db.collection('sorting');
    await c.insertMany([
      { _id: 1 as never, v: [5, 1] },
      { _id: 2 as never, v: 3 },
      { _id: 3 as never },
      { _id: 4 as never, v: [4, 10] },
    ]);
    const order = async (sort: Document, skip = 0, limit = 0) =>
      (await c.find({}).sort(sort).skip(skip).limit(limit).toArray()).map((d) => d['_id']);
    expect(await order({ v: 1 })).toEqual([3, 1, 2, 4]);
    expect(await order({ v: -1 })).toEqual([4, 1, 2, 3]);
    expect(await order({ v: 1 }, 1, 2)).toEqual([1, 2]);
    expect(await order({ v: -1, _id: 1 }, 0, 1)).toEqual([4]);
    const negative = await h.db.command({ find: 'sorting', filter: {}, sort: { _id: -1 }, limit: -2, batchSize: 1 });
    expect(negative['cursor'].firstBatch.map((d: Document) => d['_id'])).toEqual([4]);
    expect(String(negative['cursor'].id)).toBe('0');
  });

  it('explains a find with the plan and the work done', async () => {
    const c = h.db.collection('explained');
    await c.insertMany(Array.from({ length: 50 }, (_, i) => ({ i, g: i % 5 })));
    await c.createIndex({ g: 1 });
    const ixscan = await c.find({ g: 3 }).explain('executionStats');
    expect(ixscan['queryPlanner'].winningPlan).toMatchObject({
      stage: 'FETCH',
      inputStage: { stage: 'IXSCAN', indexName: 'g_1' },
    });
    expect(ixscan['executionStats']).toMatchObject({ nReturned: 10, totalKeysExamined: 10, totalDocsExamined: 10 });
    const collscan = await c.find({ i: 7 }).explain('executionStats');
    expect(collscan['queryPlanner'].winningPlan.stage).toBe('COLLSCAN');
    expect(collscan['executionStats'].totalDocsExamined).toBe(50);
  });
});
