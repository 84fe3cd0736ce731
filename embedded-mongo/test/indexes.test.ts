import mongoose, { Schema } from 'mongoose';
import { MongoServerError, type Document } from 'mongodb';
import { harness, type Harness } from './support';

describe('indexes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.close());

  it('creates, lists and drops indexes', async () => {
    const c = h.db.collection('ix');
    expect(await c.createIndex({ a: 1, b: -1 }, { name: 'a_b' })).toBe('a_b');
    expect(await c.createIndex({ a: 1, b: -1 }, { name: 'a_b' })).toBe('a_b');
    await c.createIndex({ email: 1 }, { unique: true, sparse: true });
    const listed = await c.listIndexes().toArray();
    expect(listed.map((i) => i['name'])).toEqual(['_id_', 'a_b', 'email_1']);
    expect(listed[2]).toMatchObject({ key: { email: 1 }, unique: true, sparse: true });
    await expect(c.createIndex({ a: 1 }, { name: 'a_b' })).rejects.toMatchObject({ code: 86 });
    await c.dropIndex('a_b');
    await expect(c.dropIndex('a_b')).rejects.toMatchObject({ code: 27 });
    await expect(c.dropIndex('_id_')).rejects.toBeInstanceOf(MongoServerError);
    await expect(c.createIndex({ body: 'text' })).rejects.toMatchObject({ code: 115 });
  });

  it("raises MongoDB's duplicate-key error: code, keyPattern, keyValue, message", async () => {
    const c = h.db.collection('unique');
    await c.createIndex({ projectId: 1, userId: 1 }, { unique: true });
    await c.insertOne({ projectId: 'p', userId: 'u' });
    const error = await c.insertOne({ projectId: 'p', userId: 'u' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({
      code: 11000,
      keyPattern: { projectId: 1, userId: 1 },
      keyValue: { projectId: 'p', userId: 'u' },
    });
    expect((error as Error).message).toBe(
      'E11000 duplicate key error collection: test.unique index: projectId_1_userId_1 dup key: { projectId: "p", userId: "u" }',
    );
    // An update that would collide changes nothing.
    await c.insertOne({ projectId: 'p', userId: 'v', tag: 'keep' });
    await expect(c.updateOne({ userId: 'v' }, { $set: { userId: 'u', tag: 'lost' } })).rejects.toMatchObject({
      code: 11000,
    });
    expect(await c.findOne({ userId: 'v' })).toMatchObject({ tag: 'keep' });
    // Unordered inserts go on past a duplicate; ordered ones stop.
    const bulk = await c
      .insertMany(
        [
          { projectId: 'p', userId: 'u' },
          { projectId: 'p', userId: 'w' },
        ],
        { ordered: false },
      )
      .catch((e: unknown) => e);
    expect(bulk).toMatchObject({ code: 11000 });
    expect(await c.countDocuments({ userId: 'w' })).toBe(1);
    const ordered = await c
      .insertMany([
        { projectId: 'p', userId: 'x' },
        { projectId: 'p', userId: 'u' },
        { projectId: 'p', userId: 'y' },
      ])
      .catch((e: unknown) => e);
    expect(ordered).toMatchObject({ code: 11000, insertedCount: 1 });
    expect(await c.countDocuments({ userId: { $in: ['x', 'y'] } })).toBe(1);
  });

  it('treats missing fields as null, and honours sparse and partial indexes', async () => {
    const plain = h.db.collection('nulls');
    await plain.createIndex({ email: 1 }, { unique: true });
    await plain.insertOne({ name: 'no email' });
    await expect(plain.insertOne({ name: 'no email either' })).rejects.toMatchObject({
      code: 11000,
      keyValue: { email: null },
    });

    const sparse = h.db.collection('sparse');
    await sparse.createIndex({ email: 1 }, { unique: true, sparse: true });
    await sparse.insertMany([{ name: 'a' }, { name: 'b' }, { email: 'x@y' }]);
    await expect(sparse.insertOne({ email: 'x@y' })).rejects.toMatchObject({ code: 11000 });

    const partial = h.db.collection('partial');
    await partial.createIndex(
      { owner: 1, requestId: 1 },
      { unique: true, partialFilterExpression: { requestId: { $exists: true } } },
    );
    await partial.insertMany([{ owner: 'o' }, { owner: 'o' }, { owner: 'o', requestId: 'r1' }]);
    await expect(partial.insertOne({ owner: 'o', requestId: 'r1' })).rejects.toMatchObject({ code: 11000 });
    expect(await partial.countDocuments({ owner: 'o' })).toBe(3);
  });

  it('indexes array fields per element (multikey)', async () => {
    const c = h.db.collection('multikey');
    await c.createIndex({ tags: 1 }, { unique: true });
    await c.insertOne({ tags: ['a', 'b'] });
    await expect(c.insertOne({ tags: ['c', 'b'] })).rejects.toMatchObject({ code: 11000, keyValue: { tags: 'b' } });
    await c.insertOne({ tags: ['c', 'c'] });
    expect(await c.countDocuments({ tags: 'c' })).toBe(1);
  });

  it('refuses a unique index over existing duplicates, adding nothing', async () => {
    const c = h.db.collection('late');
    await c.insertMany([{ k: 1 }, { k: 1 }]);
    await expect(c.createIndex({ k: 1 }, { unique: true })).rejects.toMatchObject({ code: 11000 });
    expect((await c.listIndexes().toArray()).map((i) => i['name'])).toEqual(['_id_']);
  });

  it('makes one document of 50 racing upserts of one key, and loses no $inc', async () => {
    const c = h.db.collection('races');
    await c.createIndex({ key: 1 }, { unique: true });
    await Promise.all(
      Array.from({ length: 50 }, () =>
        c.findOneAndUpdate(
          { key: 'one' },
          { $setOnInsert: { created: new Date() }, $inc: { hits: 1 } },
          { upsert: true },
        ),
      ),
    );
    const docs = await c.find({ key: 'one' }).toArray();
    expect(docs).toHaveLength(1);
    expect(docs[0]?.['hits']).toBe(50);
  });

  it('works through mongoose: unique and compound indexes built at connect, E11000 errors', async () => {
    const connection = mongoose.createConnection(`${h.server.uri}/mongoose_test`);
    await connection.asPromise();
    try {
      const schema = new Schema({ email: { type: String, unique: true }, org: String, handle: String, n: Number });
      schema.index({ org: 1, handle: 1 }, { unique: true });
      const User = connection.model('User', schema);
      await User.init();
      const indexes = await User.listIndexes();
      expect(indexes.map((i) => i.name).sort()).toEqual(['_id_', 'email_1', 'org_1_handle_1']);
      await User.create({ email: 'a@b.c', org: 'o', handle: 'h', n: 1 });
      await expect(User.create({ email: 'a@b.c', org: 'o', handle: 'x' })).rejects.toMatchObject({
        code: 11000,
        keyPattern: { email: 1 },
      });
      await expect(User.create({ email: 'z@b.c', org: 'o', handle: 'h' })).rejects.toMatchObject({
        code: 11000,
        keyPattern: { org: 1, handle: 1 },
      });
      const updated = await User.findOneAndUpdate(
        { email: 'a@b.c' },
        { $inc: { n: 2 } },
        { returnDocument: 'after' },
      ).lean();
      expect(updated?.n).toBe(3);
      const upserted = await User.findOneAndUpdate(
        { org: 'o2', handle: 'h2' },
        { $setOnInsert: { email: 'new@b.c' } },
        { upsert: true, returnDocument: 'after', includeResultMetadata: true, lean: true },
      );
      expect(upserted.lastErrorObject?.updatedExisting).toBe(false);
      expect(await User.countDocuments()).toBe(2);
      expect(await User.exists({ email: 'new@b.c' })).toBeTruthy();
      await User.deleteMany({ org: 'o2' });
      expect(await User.estimatedDocumentCount()).toBe(1);
    } finally {
      await connection.close();
    }
  });
  it('enforces unique keys on nested paths, arrays of documents and compound multikey indexes', async () => {
    const nested = h.db.collection('nested_unique');
    await nested.createIndex({ 'profile.email': 1 }, { unique: true });
    await nested.insertOne({ profile: { email: 'a@x' } });
    await expect(nested.insertOne({ profile: { email: 'a@x', other: 1 } })).rejects.toMatchObject({
      code: 11000,
      keyPattern: { 'profile.email': 1 },
      keyValue: { 'profile.email': 'a@x' },
    });
    const items = h.db.collection('items_unique');
    await items.createIndex({ 'items.sku': 1 }, { unique: true });
    await items.insertOne({ items: [{ sku: 's1' }, { sku: 's2' }] });
    await expect(items.insertOne({ items: [{ sku: 's3' }, { sku: 's2' }] })).rejects.toMatchObject({ code: 11000 });
    const compound = h.db.collection('compound_multikey');
    await compound.createIndex({ owner: 1, tags: 1 }, { unique: true });
    await compound.insertMany([
      { owner: 'a', tags: ['x', 'y'] },
      { owner: 'b', tags: ['x'] },
    ]);
    await expect(compound.insertOne({ owner: 'a', tags: ['z', 'y'] })).rejects.toMatchObject({
      code: 11000,
      keyValue: { owner: 'a', tags: 'y' },
    });
    await expect(compound.insertOne({ owner: ['a', 'b'], tags: ['q', 'r'] })).rejects.toMatchObject({ code: 171 });
  });

  it('changes nothing when an update, upsert or findAndModify would break a unique index', async () => {
    const c = h.db.collection('unique_writes');
    await c.createIndex({ email: 1 }, { unique: true });
    await c.insertMany([
      { _id: 1 as never, email: 'a' },
      { _id: 2 as never, email: 'b' },
    ]);
    await expect(c.updateOne({ _id: 2 as never }, { $set: { email: 'a', note: 'x' } })).rejects.toMatchObject({
      code: 11000,
    });
    await expect(c.findOneAndUpdate({ _id: 2 as never }, { $set: { email: 'a' } })).rejects.toMatchObject({
      code: 11000,
      keyPattern: { email: 1 },
    });
    await expect(c.updateOne({ email: 'new' }, { $set: { email: 'a' } }, { upsert: true })).rejects.toMatchObject({
      code: 11000,
    });
    await expect(c.replaceOne({ _id: 2 as never }, { email: 'a' })).rejects.toMatchObject({ code: 11000 });
    await expect(c.insertOne({ _id: 1 as never, email: 'c' })).rejects.toMatchObject({
      code: 11000,
      keyPattern: { _id: 1 },
      keyValue: { _id: 1 },
      message: 'E11000 duplicate key error collection: test.unique_writes index: _id_ dup key: { _id: 1 }',
    });
    expect(await c.find({}).sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, email: 'a' },
      { _id: 2, email: 'b' },
    ]);
    // Moving a key frees the old one, through the index.
    await c.updateOne({ _id: 2 as never }, { $set: { email: 'c' } });
    await c.insertOne({ email: 'b' });
    expect(await c.countDocuments({ email: 'c' })).toBe(1);
  });

  it("answers createIndexes and dropIndexes conflicts with MongoDB's codes", async () => {
    const c = h.db.collection('ix_conflicts');
    await c.createIndex({ a: 1 }, { name: 'a_1' });
    expect(
      await h.db.command({ createIndexes: 'ix_conflicts', indexes: [{ key: { a: 1 }, name: 'a_1' }] }),
    ).toMatchObject({
      numIndexesBefore: 2,
      numIndexesAfter: 2,
      note: 'all indexes already exist',
    });
    await expect(c.createIndex({ a: 1 }, { name: 'other' })).rejects.toMatchObject({ code: 85 });
    await expect(c.createIndex({ a: 1 }, { name: 'a_1', unique: true })).rejects.toMatchObject({ code: 86 });
    await expect(c.createIndex({ b: 1 }, { partialFilterExpression: { b: { $ne: 1 } } })).rejects.toMatchObject({
      code: 2,
    });
    // All or nothing: the second index of the command fails, so the first is not kept.
    await c.insertMany([{ d: 1 }, { d: 1 }]);
    await expect(
      h.db.command({
        createIndexes: 'ix_conflicts',
        indexes: [
          { key: { e: 1 }, name: 'e_1' },
          { key: { d: 1 }, name: 'd_1', unique: true },
        ],
      }),
    ).rejects.toMatchObject({ code: 11000 });
    expect((await c.listIndexes().toArray()).map((i) => i['name'])).toEqual(['_id_', 'a_1']);
    await c.createIndexes([{ key: { f: 1 } }, { key: { g: -1 } }]);
    await h.db.command({ dropIndexes: 'ix_conflicts', index: { f: 1 } });
    expect(await h.db.command({ dropIndexes: 'ix_conflicts', index: ['a_1', 'g_-1'] })).toMatchObject({
      nIndexesWas: 3,
    });
    await c.createIndex({ h: 1 });
    await c.dropIndexes();
    expect((await c.listIndexes().toArray()).map((i) => i['name'])).toEqual(['_id_']);
    await expect(h.db.collection('never_made').listIndexes().toArray()).rejects.toMatchObject({ code: 26 });
  });

  it('keeps index answers right through updates and deletes, on descending compound indexes too', async () => {
    const c = h.db.collection('ix_consistency');
    await c.createIndex({ g: 1, t: -1 });
    await c.insertMany(Array.from({ length: 40 }, (_, i) => ({ _id: i as never, g: i % 4, t: i })));
    await c.updateMany({ g: 1 }, { $inc: { t: 100 } });
    await c.deleteMany({ g: 2, t: { $gt: 20 } });
    await c.updateOne({ _id: 3 as never }, { $set: { g: 0 } });
    const q = async (filter: Document, sort: Document) =>
      (await c.find(filter).sort(sort).toArray()).map((d) => d['t']);
    expect(await q({ g: 0 }, { t: -1 })).toEqual([36, 32, 28, 24, 20, 16, 12, 8, 4, 3, 0]);
    expect(await q({ g: 1, t: { $gte: 120, $lt: 130 } }, { t: 1 })).toEqual([121, 125, 129]);
    expect(await q({ g: 2 }, { t: 1 })).toEqual([2, 6, 10, 14, 18]);
    expect(await q({ g: { $in: [2, 3] }, t: { $lte: 7 } }, { t: 1 })).toEqual([2, 6, 7]);
  });
});
