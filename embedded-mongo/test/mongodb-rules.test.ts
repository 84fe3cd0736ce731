import { DBRef, ObjectId, type Collection, type Document } from 'mongodb';
import { harness, rejection, type Harness } from './support';

/** Answers that once differed from MongoDB's without an error (found running mongoose's own suite). */
describe('MongoDB rules', () => {
  let h: Harness;
  let n = 0;
  const fresh = (): Collection<Document> => h.db.collection(`rules${++n}`);
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.close());

  it('works out the positional $ once per update, from the document the query matched', async () => {
    const c = fresh();
    await c.insertOne({
      _id: 1 as never,
      items: [
        { status: 'pending', n: 1 },
        { status: 'pending', n: 2 },
      ],
    });
    await c.updateOne({ 'items.status': 'pending' }, { $set: { 'items.$.status': 'done', 'items.$.tag': 'x' } });
    expect((await c.findOne({ _id: 1 as never }))?.['items']).toEqual([
      { status: 'done', n: 1, tag: 'x' },
      { status: 'pending', n: 2 },
    ]);
    await c.insertOne({ _id: 2 as never, items: [{ status: 'pending', n: 1 }] });
    await c.updateOne(
      { _id: 2 as never, 'items.status': 'pending' },
      { $set: { 'items.$.status': 'done', 'items.$.tag': 'y' } },
    );
    expect((await c.findOne({ _id: 2 as never }))?.['items']).toEqual([{ status: 'done', n: 1, tag: 'y' }]);
  });

  it('projects $elemMatch with operators only, and with field conditions', async () => {
    const c = fresh();
    await c.insertMany([
      {
        _id: 1 as never,
        scores: [2, 7, 9],
        grades: [
          { g: 'B', n: 1 },
          { g: 'A', n: 2 },
        ],
      },
      { _id: 2 as never, scores: [1, 3], grades: [] },
    ]);
    const docs = await c
      .find({}, { projection: { scores: { $elemMatch: { $gte: 5 } }, grades: { $elemMatch: { g: 'A' } } } })
      .sort({ _id: 1 })
      .toArray();
    expect(docs).toEqual([{ _id: 1, scores: [7], grades: [{ g: 'A', n: 2 }] }, { _id: 2 }]);
  });

  it('accepts $-prefixed field names as MongoDB 5+ does, and refuses them inside _id', async () => {
    const c = fresh();
    await c.insertOne({ _id: 1 as never, $price: 50, location: { $db: 'novels', $inc: true } });
    expect(await c.findOne({ _id: 1 as never })).toEqual({
      _id: 1,
      $price: 50,
      location: { $db: 'novels', $inc: true },
    });
    await c.updateOne({ _id: 1 as never }, { $set: { 'location.$db': 'poems', 'location.$new': 1 } });
    expect((await c.findOne({ _id: 1 as never }))?.['location']).toEqual({ $db: 'poems', $inc: true, $new: 1 });
    // An upsert that inserts is validated as an insert; the same update of an existing document is refused.
    await c.updateOne({ date: '2021-07-07' }, { $set: { phone: 25.17, $hotel: 320.1 } }, { upsert: true });
    expect(await c.findOne({ date: '2021-07-07' }, { projection: { _id: 0 } })).toEqual({
      date: '2021-07-07',
      $hotel: 320.1,
      phone: 25.17,
    });
    const refused = await rejection(c.updateOne({ date: '2021-07-07' }, { $set: { $hotel: 1 } }));
    expect(refused['code']).toBe(52);
    const badId = await rejection(c.insertOne({ _id: { $a: 1 } as never }));
    expect(badId['code']).toBe(52);
    expect(badId.message).toMatch(/_id fields may not contain '\$'-prefixed fields: \$a/);
    expect(await c.countDocuments({ _id: { $eq: { $a: 1 } } as never })).toBe(0);
  });

  it('queries DBRef sub-paths ($ref, $id, $db) and $elemMatch on them', async () => {
    const c = fresh();
    const oid = new ObjectId();
    const other = new ObjectId();
    await c.insertMany([
      { _id: 1 as never, ref: new DBRef('users', oid), refs: [new DBRef('users', oid, 'app')] },
      { _id: 2 as never, ref: new DBRef('users', other), refs: [new DBRef('teams', other)] },
    ]);
    const ids = async (filter: Document) => (await c.find(filter).toArray()).map((d) => d['_id'] as unknown as number);
    expect(await ids({ 'ref.$id': oid })).toEqual([1]);
    expect(await ids({ 'ref.$ref': 'users' })).toEqual([1, 2]);
    expect(await ids({ 'refs.$db': 'app' })).toEqual([1]);
    expect(await ids({ refs: { $elemMatch: { $id: oid } } })).toEqual([1]);
    expect(await ids({ refs: { $elemMatch: { $ref: 'teams', $id: other } } })).toEqual([2]);
  });

  it('returns a hinted find without a sort in the index order, and refuses an unknown hint', async () => {
    const c = fresh();
    await c.createIndex({ qty: -1, name: -1 });
    await c.createIndex({ tag: 1 }, { sparse: true });
    await c.insertMany([
      { _id: 1 as never, qty: 5, name: 'a' },
      { _id: 2 as never, qty: 9, name: 'b', tag: 'x' },
      { _id: 3 as never, qty: 5, name: 'c', tag: 'a' },
      { _id: 4 as never, qty: 1, name: 'd' },
    ]);
    const ids = (docs: Document[]) => docs.map((d) => d['_id'] as unknown as number);
    expect(ids(await c.find({}).hint({ qty: -1, name: -1 }).toArray())).toEqual([2, 3, 1, 4]);
    expect(ids(await c.find({}).hint('qty_-1_name_-1').limit(2).toArray())).toEqual([2, 3]);
    expect(
      ids(
        await c
          .find({ qty: { $lt: 9 } })
          .hint({ qty: -1, name: -1 })
          .skip(1)
          .toArray(),
      ),
    ).toEqual([1, 4]);
    // A sparse index holds only the documents that have the field, as MongoDB's index scan does.
    expect(ids(await c.find({}).hint({ tag: 1 }).toArray())).toEqual([3, 2]);
    expect(await c.countDocuments({}, { hint: { tag: 1 } })).toBe(2);
    expect(ids(await c.aggregate([{ $match: {} }], { hint: { qty: -1, name: -1 } }).toArray())).toEqual([2, 3, 1, 4]);
    const unknown = await rejection(c.find({}).hint({ nope: 1 }).toArray());
    expect(unknown['code']).toBe(2);
    expect(unknown.message).toBe('hint provided does not correspond to an existing index');
  });

  it('answers serverStatus with a standalone MongoDB 7 health fields', async () => {
    const c = fresh();
    await c.insertMany([{ a: 1 }, { a: 2 }]);
    await c.find({}).toArray();
    const status = await h.db.admin().serverStatus();
    expect(status).toMatchObject({
      version: '7.0.0',
      process: 'mongod',
      pid: process.pid,
      ok: 1,
    });
    expect(status['host']).toMatch(new RegExp(`:${h.server.uri.split(':').pop() ?? ''}$`));
    expect(typeof status['uptime']).toBe('number');
    expect(status['uptimeMillis']).toBeGreaterThanOrEqual(0);
    expect(typeof status['uptimeEstimate']).toBe('number');
    expect(status['localTime']).toBeInstanceOf(Date);
    expect(status['connections']['current']).toBeGreaterThanOrEqual(1);
    expect(status['connections']['totalCreated']).toBeGreaterThanOrEqual(status['connections']['current']);
    expect(status['connections']['available']).toBeGreaterThan(0);
    expect(status['opcounters']['insert']).toBeGreaterThanOrEqual(2);
    expect(status['opcounters']['query']).toBeGreaterThanOrEqual(1);
    expect(status['opcounters']['command']).toBeGreaterThanOrEqual(1);
    expect(status['mem']).toMatchObject({ bits: 64, supported: true });
    expect(status['mem']['resident']).toBeGreaterThan(0);
  });
});
