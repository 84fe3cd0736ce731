import { ObjectId, Timestamp, type Collection, type Document } from 'mongodb';
import { harness, rejection, type Harness } from './support';

/** Every update operator embedded-mongo supports, and the errors MongoDB raises for misuse. */
describe('update operators', () => {
  let h: Harness;
  let c: Collection<Document>;
  let n = 0;
  beforeAll(async () => {
    h = await harness();
    c = h.db.collection('ops');
  });
  afterAll(async () => h.close());

  /** Inserts `doc`, applies `update` (with options), returns the stored result without _id. */
  async function apply(doc: Document, update: Document | Document[], options: Document = {}): Promise<Document> {
    const _id = ++n;
    await c.insertOne({ _id: _id as never, ...doc });
    await c.updateOne({ _id: _id as never, ...(options['filter'] as Document | undefined) }, update as never, options);
    const { _id: _omit, ...rest } = (await c.findOne({ _id: _id as never })) ?? {};
    return rest;
  }

  async function fails(
    doc: Document,
    update: Document,
    options: Document = {},
  ): Promise<{ code: unknown; message: string; after: Document }> {
    const _id = ++n;
    await c.insertOne({ _id: _id as never, ...doc });
    const error = await rejection(
      c.updateOne({ _id: _id as never, ...(options['filter'] as Document | undefined) }, update as never, options),
    );
    const { _id: _omit, ...after } = (await c.findOne({ _id: _id as never })) ?? {};
    return { code: error['code'], message: error.message, after };
  }

  it('$set creates paths, sets array positions (padding with null) and is a no-op for equal values', async () => {
    expect(await apply({ a: 1 }, { $set: { 'b.c.d': 2 } })).toEqual({ a: 1, b: { c: { d: 2 } } });
    expect(await apply({ arr: [1, 2] }, { $set: { 'arr.4': 9 } })).toEqual({ arr: [1, 2, null, null, 9] });
    expect(await apply({ objs: [{ k: 1 }] }, { $set: { 'objs.2.k': 3 } })).toEqual({
      objs: [{ k: 1 }, null, { k: 3 }],
    });
    const _id = ++n;
    await c.insertOne({ _id: _id as never, a: 1, when: new Date(5), o: new ObjectId('6b033fa270d41e39f9cb67f8') });
    const same = await c.updateOne(
      { _id: _id as never },
      { $set: { a: 1, when: new Date(5), o: new ObjectId('6b033fa270d41e39f9cb67f8') } },
    );
    expect(same).toMatchObject({ matchedCount: 1, modifiedCount: 0 });
  });

  it('$set refuses paths through scalars and arrays as MongoDB does (PathNotViable, 28)', async () => {
    const throughScalar = await fails({ a: 1 }, { $set: { 'a.b': 1 } });
    expect(throughScalar.code).toBe(28);
    expect(throughScalar.message).toContain("Cannot create field 'b'");
    expect(throughScalar.after).toEqual({ a: 1 });
    expect((await fails({ a: null }, { $set: { 'a.b': 1 } })).code).toBe(28);
    expect((await fails({ objs: [{ v: 1 }] }, { $set: { 'objs.v': 2 } })).code).toBe(28);
    expect((await fails({ a: { b: { c: 1 } } }, { $set: { 'a.b.c.d': 1 } })).code).toBe(28);
  });

  it('$unset removes fields, nulls array elements, ignores what is not there', async () => {
    expect(await apply({ a: 1, b: { c: 1, d: 2 } }, { $unset: { a: '', 'b.c': 1, zz: '' } })).toEqual({ b: { d: 2 } });
    expect(await apply({ arr: [1, 2, 3] }, { $unset: { 'arr.1': '' } })).toEqual({ arr: [1, null, 3] });
    expect(await apply({ a: 1 }, { $unset: { 'a.b': '' } })).toEqual({ a: 1 });
  });

  it('$inc and $mul do arithmetic, create missing fields, and refuse non-numbers', async () => {
    expect(await apply({ a: 1, f: 1.5 }, { $inc: { a: 2, f: 0.25, 'n.m': 3 } })).toEqual({
      a: 3,
      f: 1.75,
      n: { m: 3 },
    });
    expect(await apply({ a: 3 }, { $mul: { a: 4, missing: 5 } })).toEqual({ a: 12, missing: 0 });
    const onString = await fails({ s: 'x' }, { $inc: { s: 1 } });
    expect(onString.code).toBe(14);
    expect(onString.message).toContain('non-numeric type');
    expect(onString.after).toEqual({ s: 'x' });
    expect((await fails({ a: 1 }, { $inc: { a: 'one' } })).code).toBe(14);
  });

  it('$min and $max compare across BSON types in MongoDB order', async () => {
    expect(await apply({ a: 5, b: 5 }, { $min: { a: 3, b: 9 } })).toEqual({ a: 3, b: 5 });
    expect(await apply({ a: 5, b: 5 }, { $max: { a: 3, b: 9 } })).toEqual({ a: 5, b: 9 });
    expect(await apply({ d: new Date(5) }, { $max: { d: new Date(7) } })).toEqual({ d: new Date(7) });
    // null sorts below numbers, strings above them.
    expect(await apply({ a: 5, b: 5 }, { $min: { a: null }, $max: { b: 'text' } })).toEqual({ a: null, b: 'text' });
    expect(await apply({}, { $min: { fresh: 1 } })).toEqual({ fresh: 1 });
  });

  it('$rename moves fields, and refuses array elements', async () => {
    expect(await apply({ a: 1, s: { x: 2 } }, { $rename: { a: 'b', 's.x': 's.y' } })).toEqual({ s: { y: 2 }, b: 1 });
    expect(await apply({ a: 1 }, { $rename: { missing: 'other' } })).toEqual({ a: 1 });
    expect((await fails({ arr: [{ n: 1 }] }, { $rename: { 'arr.n': 'z' } })).code).toBe(2);
  });

  it('$currentDate sets a Date or a Timestamp', async () => {
    const before = Date.now();
    const doc = await apply({}, { $currentDate: { d: true, e: { $type: 'date' }, t: { $type: 'timestamp' } } });
    expect(doc['d']).toBeInstanceOf(Date);
    expect((doc['d'] as Date).getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(doc['e']).toBeInstanceOf(Date);
    expect(doc['t']).toBeInstanceOf(Timestamp);
  });

  it('$push with $each, $position, $sort and $slice', async () => {
    expect(await apply({ arr: [1, 2] }, { $push: { arr: 3 } })).toEqual({ arr: [1, 2, 3] });
    expect(await apply({}, { $push: { 'x.y': 1 } })).toEqual({ x: { y: [1] } });
    expect(await apply({ arr: [1, 2, 3] }, { $push: { arr: { $each: [5, 0], $sort: -1, $slice: 3 } } })).toEqual({
      arr: [5, 3, 2],
    });
    expect(await apply({ arr: [1, 2] }, { $push: { arr: { $each: [9, 8], $position: 1 } } })).toEqual({
      arr: [1, 9, 8, 2],
    });
    expect(await apply({ arr: [1, 2] }, { $push: { arr: { $each: [9], $position: -1 } } })).toEqual({ arr: [1, 9, 2] });
    expect(await apply({ arr: [3, 1, 2] }, { $push: { arr: { $each: [4], $slice: -2 } } })).toEqual({ arr: [2, 4] });
    expect(
      await apply({ objs: [{ k: 2 }, { k: 1 }] }, { $push: { objs: { $each: [{ k: 0 }], $sort: { k: 1 } } } }),
    ).toEqual({ objs: [{ k: 0 }, { k: 1 }, { k: 2 }] });
    const notArray = await fails({ a: 1 }, { $push: { a: 2 } });
    expect(notArray.code).toBe(2);
    expect(notArray.message).toContain('must be an array');
  });

  it('$addToSet with $each adds only what is missing, comparing BSON values', async () => {
    const id = new ObjectId();
    expect(await apply({ set: ['x'] }, { $addToSet: { set: { $each: ['x', 'y', 'y'] } } })).toEqual({
      set: ['x', 'y'],
    });
    expect(await apply({ ids: [id] }, { $addToSet: { ids: new ObjectId(id.toHexString()) } })).toEqual({ ids: [id] });
    expect(await apply({ nums: [1] }, { $addToSet: { nums: 1.0 } })).toEqual({ nums: [1] });
    expect((await fails({ a: 'x' }, { $addToSet: { a: 'y' } })).code).toBe(2);
  });

  it('$pull (values and conditions), $pullAll and $pop', async () => {
    const id = new ObjectId();
    expect(await apply({ arr: [1, 2, 3, 4] }, { $pull: { arr: { $gte: 3 } } })).toEqual({ arr: [1, 2] });
    expect(await apply({ objs: [{ k: 1, v: 1 }, { k: 2 }] }, { $pull: { objs: { k: 1 } } })).toEqual({
      objs: [{ k: 2 }],
    });
    expect(
      await apply({ ids: [id, new ObjectId()] }, { $pull: { ids: new ObjectId(id.toHexString()) } }),
    ).toMatchObject({
      ids: [expect.any(ObjectId)],
    });
    expect(await apply({ arr: [1, 2, 3, 1] }, { $pullAll: { arr: [1, 3] } })).toEqual({ arr: [2] });
    expect(await apply({ arr: [1, 2, 3] }, { $pop: { arr: 1 } })).toEqual({ arr: [1, 2] });
    expect(await apply({ arr: [1, 2, 3] }, { $pop: { arr: -1 } })).toEqual({ arr: [2, 3] });
    expect(await apply({}, { $pop: { missing: 1 } })).toEqual({});
    expect((await fails({ a: 1 }, { $pull: { a: 1 } })).code).toBe(2);
    expect((await fails({ a: 1 }, { $pop: { a: 1 } })).code).toBe(14);
  });

  it('positional $, $[] and $[identifier] with arrayFilters', async () => {
    const objs = [
      { k: 1, v: 'a' },
      { k: 2, v: 'b' },
    ];
    expect(await apply({ objs }, { $set: { 'objs.$.v': 'B' } }, { filter: { 'objs.k': 2 } })).toEqual({
      objs: [
        { k: 1, v: 'a' },
        { k: 2, v: 'B' },
      ],
    });
    expect(
      await apply({ objs }, { $set: { 'objs.$.v': 'X' } }, { filter: { objs: { $elemMatch: { k: 1, v: 'a' } } } }),
    ).toMatchObject({ objs: [{ v: 'X' }, { v: 'b' }] });
    expect(await apply({ tags: ['a', 'b'] }, { $set: { 'tags.$': 'B' } }, { filter: { tags: 'b' } })).toEqual({
      tags: ['a', 'B'],
    });
    expect(await apply({ arr: [1, 2, 3] }, { $inc: { 'arr.$[]': 10 } })).toEqual({ arr: [11, 12, 13] });
    expect(
      await apply({ objs }, { $set: { 'objs.$[o].v': 'Z' } }, { arrayFilters: [{ 'o.k': { $gte: 2 } }] }),
    ).toMatchObject({ objs: [{ v: 'a' }, { v: 'Z' }] });
    expect(
      await apply({ arr: [1, 5, 9] }, { $set: { 'arr.$[big]': 0 } }, { arrayFilters: [{ big: { $gt: 4 } }] }),
    ).toEqual({ arr: [1, 0, 0] });
    // Errors: no array field in the query, an unused filter, a missing filter.
    expect((await fails({ objs }, { $set: { 'objs.$.v': 1 } })).message).toContain('positional operator did not find');
    expect((await fails({ objs }, { $set: { a: 1 } }, { arrayFilters: [{ 'x.k': 1 }] })).code).toBe(9);
    expect((await fails({ objs }, { $set: { 'objs.$[y].v': 1 } })).code).toBe(2);
  });

  it('refuses conflicting paths, unknown operators, $-prefixed fields and non-object arguments', async () => {
    const conflict = await fails({ a: 1 }, { $set: { a: 2 }, $inc: { a: 1 } });
    expect(conflict.code).toBe(40);
    expect(conflict.after).toEqual({ a: 1 });
    expect((await fails({ s: {} }, { $set: { s: 1, 's.x': 2 } })).code).toBe(40);
    expect((await fails({}, { $set: { x: 1 }, $setOnInsert: { x: 2 } })).code).toBe(40);
    expect((await fails({}, { $frob: { a: 1 } })).code).toBe(9);
    expect((await fails({}, { $set: 'a' as never })).code).toBe(9);
    expect((await fails({}, { $set: { $bad: 1 } })).code).toBe(52);
    expect((await fails({}, { $set: { 'a..b': 1 } })).code).toBe(56);
    expect((await fails({}, { $bit: { a: { and: 1 } } })).code).toBe(115);
  });

  it('keeps _id immutable, with MongoDB errors', async () => {
    expect((await fails({ a: 1 }, { $set: { _id: 99 } })).code).toBe(66);
    expect((await fails({ a: 1 }, { $unset: { _id: '' } })).code).toBe(66);
    const _id = ++n;
    await c.insertOne({ _id: _id as never, a: 1 });
    // Setting _id to its own value is allowed.
    expect(await c.updateOne({ _id: _id as never }, { $set: { _id: _id as never, a: 2 } })).toMatchObject({
      modifiedCount: 1,
    });
    const replaced = await rejection(c.replaceOne({ _id: _id as never }, { _id: 12345, a: 3 } as never));
    expect(replaced['code']).toBe(66);
  });

  it('replaces whole documents, keeping _id first', async () => {
    const _id = ++n;
    await c.insertOne({ _id: _id as never, a: 1, b: 2 });
    await c.replaceOne({ _id: _id as never }, { z: 1, y: 2 });
    const doc = await c.findOne({ _id: _id as never });
    expect(doc).toEqual({ _id, z: 1, y: 2 });
    expect(Object.keys(doc ?? {})).toEqual(['_id', 'z', 'y']);
    const multi = await rejection(
      h.db.command({ update: 'ops', updates: [{ q: {}, u: { z: 2 }, multi: true }] }).then((r) => {
        if (r['writeErrors']) throw Object.assign(new Error(r['writeErrors'][0].errmsg), r['writeErrors'][0]);
      }),
    );
    expect(multi['code']).toBe(9);
  });

  it('upserts: seeds from equality fields (including $and and $eq), applies $setOnInsert only on insert', async () => {
    const u = h.db.collection('upserts');
    const first = await u.updateOne(
      { key: 'k1', 'meta.kind': 'x', n: { $gt: 1 }, $and: [{ tag: 't' }, { level: { $eq: 3 } }] },
      { $setOnInsert: { created: true }, $set: { seen: 1 }, $inc: { count: 1 } },
      { upsert: true },
    );
    expect(first.upsertedCount).toBe(1);
    expect(first.upsertedId).toBeInstanceOf(ObjectId);
    const stored = await u.findOne({ _id: first.upsertedId as ObjectId });
    expect(stored).toEqual({
      _id: first.upsertedId,
      key: 'k1',
      meta: { kind: 'x' },
      tag: 't',
      level: 3,
      count: 1,
      created: true,
      seen: 1,
    });
    const second = await u.updateOne(
      { key: 'k1' },
      { $setOnInsert: { created: false }, $inc: { count: 1 } },
      { upsert: true },
    );
    expect(second).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 });
    expect(await u.findOne({ key: 'k1' })).toMatchObject({ created: true, count: 2 });
    await u.updateOne({ one: { $in: ['only'] }, many: { $in: [1, 2] } }, { $set: { v: 1 } }, { upsert: true });
    expect(await u.findOne({ one: 'only' }, { projection: { _id: 0 } })).toEqual({ one: 'only', v: 1 });
    // The filter's _id is the new document's; a replacement upsert keeps it too.
    await u.updateOne({ _id: 'given' as never }, { $set: { v: 1 } }, { upsert: true });
    expect(await u.findOne({ _id: 'given' as never })).toEqual({ _id: 'given', v: 1 });
    await u.replaceOne({ _id: 'whole' as never }, { w: 1 }, { upsert: true });
    expect(await u.findOne({ _id: 'whole' as never })).toEqual({ _id: 'whole', w: 1 });
    // $setOnInsert may choose the _id when the filter does not.
    await u.updateOne({ key: 'k3' }, { $setOnInsert: { _id: 'chosen' as never, v: 1 } }, { upsert: true });
    expect(await u.findOne({ _id: 'chosen' as never })).toEqual({ _id: 'chosen', key: 'k3', v: 1 });
  });

  it('reports n, nModified and upserted like MongoDB for multi updates', async () => {
    const m = h.db.collection('multi');
    await m.insertMany([
      { g: 1, v: 1 },
      { g: 1, v: 2 },
      { g: 1, v: 2 },
      { g: 2, v: 2 },
    ]);
    const result = await m.updateMany({ g: 1 }, { $set: { v: 2 } });
    expect(result).toMatchObject({ matchedCount: 3, modifiedCount: 1, upsertedCount: 0 });
    const raw = await h.db.command({
      update: 'multi',
      updates: [
        { q: { g: 2 }, u: { $set: { v: 3 } } },
        { q: { g: 3 }, u: { $set: { v: 3 } }, upsert: true },
      ],
    });
    expect(raw).toMatchObject({ n: 2, nModified: 1, ok: 1, upserted: [{ index: 1, _id: expect.any(ObjectId) }] });
  });

  it('refuses pipeline-style updates by name', async () => {
    const error = await fails({ a: 1 }, [{ $set: { a: 2 } }] as never);
    expect(error.code).toBe(115);
    expect(error.message).toContain('pipeline');
    expect(error.after).toEqual({ a: 1 });
  });
});
