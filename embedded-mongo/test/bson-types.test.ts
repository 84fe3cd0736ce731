import {
  Binary,
  BSONRegExp,
  Decimal128,
  Double,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  type Collection,
  type Document,
} from 'mongodb';
import { harness, rejection, type Harness } from './support';

/** Query semantics over BSON values, where mingo's own comparisons would go wrong. */
describe('BSON values in queries, sorts and groups', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.close());

  const ids = (docs: Document[]) => docs.map((d) => d['_id'] as unknown);

  it('round-trips ObjectId, Date, Long, Decimal128, Binary, null, nested documents and arrays', async () => {
    const c = h.db.collection('roundtrip');
    const id = new ObjectId();
    const doc = {
      _id: id,
      when: new Date('2024-05-06T07:08:09.010Z'),
      big: Long.fromString('9007199254740993'),
      dec: Decimal128.fromString('1.10'),
      bin: new Binary(Buffer.from([0, 1, 2, 255]), 0),
      uuid: new Binary(Buffer.alloc(16, 7), 4),
      nothing: null,
      nested: { deep: { arr: [1, 'two', { three: 3 }] } },
      re: /^a.c$/i,
      float: 1.5,
      negativeZero: -0,
    };
    await c.insertOne(doc);
    const back = await c.findOne({ _id: new ObjectId(id.toHexString()) }, { promoteLongs: false });
    expect(back?.['when']).toEqual(doc.when);
    expect(back?.['big']).toEqual(doc.big);
    expect(back?.['dec']).toEqual(doc.dec);
    expect(Array.from((back?.['bin'] as Binary).buffer)).toEqual([0, 1, 2, 255]);
    expect((back?.['uuid'] as Binary).sub_type).toBe(4);
    expect(back?.['nothing']).toBeNull();
    expect(back?.['nested']).toEqual(doc.nested);
    expect(String(back?.['re'])).toBe('/^a.c$/i');
    expect(back?.['float']).toBe(1.5);
  });

  it('matches ObjectIds by value: equality, $in, $ne, $nin, in arrays', async () => {
    const c = h.db.collection('oids');
    const [a, b, x] = [new ObjectId(), new ObjectId(), new ObjectId()];
    await c.insertMany([
      { _id: 1 as never, ref: a, refs: [a, b] },
      { _id: 2 as never, ref: b, refs: [b] },
    ]);
    const copy = (o: ObjectId) => new ObjectId(o.toHexString());
    expect(ids(await c.find({ ref: copy(a) }).toArray())).toEqual([1]);
    expect(ids(await c.find({ ref: { $in: [copy(b), x] } }).toArray())).toEqual([2]);
    expect(ids(await c.find({ ref: { $ne: copy(a) } }).toArray())).toEqual([2]);
    expect(ids(await c.find({ refs: copy(a) }).toArray())).toEqual([1]);
    expect(ids(await c.find({ refs: { $nin: [copy(a)] } }).toArray())).toEqual([2]);
    expect(ids(await c.find({ refs: { $all: [copy(a), copy(b)] } }).toArray())).toEqual([1]);
    expect(
      ids(
        await c
          .find({ ref: { $gt: a } })
          .sort({ _id: 1 })
          .toArray(),
      ),
    ).toEqual(a.toHexString() < b.toHexString() ? [2] : []);
  });

  it('compares numbers across int, double and Long, and Decimal128 exactly', async () => {
    const c = h.db.collection('numbers');
    await c.insertMany([
      { _id: 1 as never, n: 1 },
      { _id: 2 as never, n: 2.5 },
      { _id: 3 as never, n: Long.fromNumber(3) },
      { _id: 4 as never, n: Long.fromString('9007199254740993') },
      { _id: 5 as never, n: Decimal128.fromString('2.50') },
      { _id: 6 as never, n: Decimal128.fromString('10') },
      { _id: 7 as never, n: 'text' },
    ]);
    expect(ids(await c.find({ n: 2.5 }).sort({ _id: 1 }).toArray())).toEqual([2, 5]);
    expect(
      ids(
        await c
          .find({ n: Decimal128.fromString('2.5') })
          .sort({ _id: 1 })
          .toArray(),
      ),
    ).toEqual([2, 5]);
    expect(ids(await c.find({ n: 3 }).toArray())).toEqual([3]);
    expect(ids(await c.find({ n: Long.fromString('9007199254740993') }).toArray())).toEqual([4]);
    // 2^53 + 1 is not 2^53, even though a double cannot tell them apart.
    expect(ids(await c.find({ n: Long.fromString('9007199254740992') }).toArray())).toEqual([]);
    expect(
      ids(
        await c
          .find({ n: { $gt: 2, $lt: 11 } })
          .sort({ _id: 1 })
          .toArray(),
      ),
    ).toEqual([2, 3, 5, 6]);
    expect(
      ids(
        await c
          .find({ n: { $gte: Decimal128.fromString('9') } })
          .sort({ _id: 1 })
          .toArray(),
      ),
    ).toEqual([4, 6]);
    // Comparisons stay within a type: no string is greater than a number.
    expect(ids(await c.find({ n: { $gt: 0 } }).toArray())).not.toContain(7);
    const sorted = await c.find({}).sort({ n: 1 }).toArray();
    expect(ids(sorted)).toEqual([1, 2, 5, 3, 6, 4, 7]);
  });

  it('sorts by Date, ObjectId and mixed types in MongoDB order, missing as null', async () => {
    const c = h.db.collection('order');
    const o1 = new ObjectId('000000000000000000000001');
    const o2 = new ObjectId('ffffffffffffffffffffffff');
    await c.insertMany([
      { _id: 1 as never, v: new Date(2000) },
      { _id: 2 as never, v: o2 },
      { _id: 3 as never, v: true },
      { _id: 4 as never, v: new Date(1000) },
      { _id: 5 as never, v: o1 },
      { _id: 6 as never, v: 'str' },
      { _id: 7 as never, v: 42 },
      { _id: 8 as never, v: null },
      { _id: 9 as never },
      { _id: 10 as never, v: { a: 1 } },
      { _id: 11 as never, v: [0, 100] },
      { _id: 12 as never, v: new MaxKey() },
      { _id: 13 as never, v: new MinKey() },
      { _id: 14 as never, v: [] },
    ]);
    const asc = ids(await c.find({}).sort({ v: 1, _id: 1 }).toArray());
    // MinKey, [] (before null), null and missing, numbers (an array by its smallest element), string,
    // object, ObjectIds by bytes, bool, dates, MaxKey.
    expect(asc).toEqual([13, 14, 8, 9, 11, 7, 6, 10, 5, 2, 3, 4, 1, 12]);
    const desc = ids(
      await c
        .find({ v: { $type: ['date', 'objectId'] } })
        .sort({ v: -1 })
        .toArray(),
    );
    expect(desc).toEqual([1, 4, 2, 5]);
    // Descending, an array sorts by its largest element.
    const arrays = ids(
      await c
        .find({ _id: { $in: [7, 11] } as never })
        .sort({ v: -1 })
        .toArray(),
    );
    expect(arrays).toEqual([11, 7]);
  });

  it('tells null from missing where MongoDB does', async () => {
    const c = h.db.collection('nulls');
    await c.insertMany([
      { _id: 1 as never, a: null },
      { _id: 2 as never },
      { _id: 3 as never, a: 0 },
      { _id: 4 as never, a: [null, 1] },
      { _id: 5 as never, a: [] },
      { _id: 6 as never, sub: [{ b: 1 }, { c: 2 }] },
      { _id: 7 as never, sub: [{ b: 1 }] },
    ]);
    const q = async (filter: Document) => ids(await c.find(filter).sort({ _id: 1 }).toArray());
    expect(await q({ a: null })).toEqual([1, 2, 4, 6, 7]);
    expect(await q({ a: { $exists: true } })).toEqual([1, 3, 4, 5]);
    expect(await q({ a: { $exists: false } })).toEqual([2, 6, 7]);
    expect(await q({ a: { $type: 'null' } })).toEqual([1, 4]);
    expect(await q({ a: { $ne: null } })).toEqual([3, 5]);
    expect(await q({ a: { $in: [null, 0] } })).toEqual([1, 2, 3, 4, 6, 7]);
    expect(await q({ a: { $gte: null } })).toEqual([1, 2, 4, 6, 7]);
    expect(await q({ a: { $size: 0 } })).toEqual([5]);
    // A path through an array: the element without `b` counts as null.
    expect(await q({ 'sub.b': null, sub: { $exists: true } })).toEqual([6]);
    expect(await q({ 'sub.b': 1 })).toEqual([6, 7]);
  });

  it('groups and joins by ObjectId', async () => {
    const orders = h.db.collection('orders');
    const owners = h.db.collection('owners');
    const [a, b] = [new ObjectId(), new ObjectId()];
    await owners.insertMany([
      { _id: a, name: 'A' },
      { _id: b, name: 'B' },
    ]);
    await orders.insertMany([
      { owner: new ObjectId(a.toHexString()), total: 1 },
      { owner: a, total: 2 },
      { owner: b, total: 5 },
      { owner: null, total: 7 },
    ]);
    const grouped = await orders
      .aggregate([{ $group: { _id: '$owner', sum: { $sum: '$total' }, n: { $count: {} } } }, { $sort: { sum: 1 } }])
      .toArray();
    expect(grouped).toEqual([
      { _id: a, sum: 3, n: 2 },
      { _id: b, sum: 5, n: 1 },
      { _id: null, sum: 7, n: 1 },
    ]);
    const joined = await orders
      .aggregate([
        { $match: { owner: { $ne: null } } },
        { $lookup: { from: 'owners', localField: 'owner', foreignField: '_id', as: 'who' } },
        { $project: { _id: 0, total: 1, name: { $first: '$who.name' } } },
        { $sort: { total: 1 } },
      ])
      .toArray();
    expect(joined).toEqual([
      { total: 1, name: 'A' },
      { total: 2, name: 'A' },
      { total: 5, name: 'B' },
    ]);
  });

  it('answers $type names, int, long and double included, and refuses unknown ones', async () => {
    const c: Collection = h.db.collection('types');
    await c.insertMany([{ v: 1 }, { v: 'x' }, { v: new ObjectId() }, { v: Decimal128.fromString('1') }, { v: [1] }]);
    await c.insertMany([{ v: Long.fromNumber(1) }, { v: new Double(1) }, { v: 2.5 }]);
    expect(await c.countDocuments({ v: { $type: 'number' } })).toBe(6);
    expect(await c.countDocuments({ v: { $type: 'int' } })).toBe(2);
    expect(await c.countDocuments({ v: { $type: 'long' } })).toBe(1);
    expect(await c.countDocuments({ v: { $type: 'double' } })).toBe(2);
    expect(await c.countDocuments({ v: { $type: [16, 18] } })).toBe(3);
    expect(await c.countDocuments({ v: { $type: 'objectId' } })).toBe(1);
    expect(await c.countDocuments({ v: { $type: 'decimal' } })).toBe(1);
    expect(await c.countDocuments({ v: { $type: 'array' } })).toBe(1);
    await expect(c.countDocuments({ v: { $type: 'nonsense' } })).rejects.toMatchObject({ code: 2 });
  });

  it('matches regular expressions with MongoDB options, refusing what JavaScript cannot do', async () => {
    const c = h.db.collection('regex');
    await c.insertMany([{ s: 'Alpha\nbeta' }, { s: 'alphabet' }, { s: 'ALPHA' }, { s: 42 }]);
    expect(await c.countDocuments({ s: /^alpha/ })).toBe(1);
    expect(await c.countDocuments({ s: /^alpha/i })).toBe(3);
    expect(await c.countDocuments({ s: { $regex: '^beta', $options: 'm' } })).toBe(1);
    expect(await c.countDocuments({ s: { $regex: 'a.b', $options: 's' } })).toBe(1);
    expect(await c.countDocuments({ s: { $regex: 'a.b' } })).toBe(0);
    expect(await c.countDocuments({ s: { $not: /^a/i } })).toBe(1);
    expect(await c.countDocuments({ s: { $in: [/^AL/, 'alphabet'] } })).toBe(2);
    // Escapes of punctuation (as escaping libraries write them) are literal in both engines.
    await c.insertOne({ s: 'mary-jane/smith.x' });
    expect(await c.countDocuments({ s: { $regex: '^mary\\-jane\\/smith\\.' } })).toBe(1);
    expect(await c.countDocuments({ s: { $regex: '^mary\\-jane\\/smithy' } })).toBe(0);
    await expect(c.countDocuments({ s: { $regex: 'a b', $options: 'x' } })).rejects.toMatchObject({ code: 115 });
    await expect(c.countDocuments({ s: { $regex: '\\R' } })).rejects.toMatchObject({ code: 115 });
    await expect(c.countDocuments({ s: { $regex: '(' } })).rejects.toMatchObject({ code: 51091 });
  });

  it("translates PCRE's meaning exactly, and names what it cannot translate", async () => {
    const c = h.db.collection('pcre');
    const strings = ['abc', 'abc\n', 'a:b', 'Z', 'x y', 'x\u00a0y', 'é', 'a\rb', 'l1\nl2\n', ']', 'a-b', '5-'];
    await c.insertMany(strings.map((s, i) => ({ _id: i as never, s })));
    const matching = async (regex: string, options?: string) =>
      (await c.find({ s: { $regex: regex, ...(options ? { $options: options } : {}) } }).toArray()).map((d) => d['s']);
    // `$` also matches before a final newline; \z and \Z are the strict and the lenient end.
    expect(await matching('abc$')).toEqual(['abc', 'abc\n']);
    expect(await matching('abc\\z')).toEqual(['abc']);
    expect(await matching('^abc\\Z')).toEqual(['abc', 'abc\n']);
    // In multiline mode only \n separates lines, and ^ does not match after the final one.
    expect(await matching('^$', 'm')).toEqual([]);
    expect(await matching('^l2$', 'm')).toEqual(['l1\nl2\n']);
    expect(await matching('b$', 'm')).toEqual(['a:b', 'a\rb', 'a-b']);
    // `.` matches everything but \n (JavaScript's also stops at \r).
    expect(await matching('^a.b$')).toEqual(['a:b', 'a\rb', 'a-b']);
    // POSIX classes and \s are ASCII; \h includes the no-break space.
    expect(await matching('^[[:alpha:]]+$')).toEqual(['abc', 'abc\n', 'Z']);
    expect(await matching('^x\\sy$')).toEqual(['x y']);
    expect(await matching('^x\\hy$')).toEqual(['x y', 'x\u00a0y']);
    expect(await matching('^[[:punct:]]$')).toEqual([']']);
    // A leading `]` in a class is literal; a hyphen next to a class escape too.
    expect(await matching('^[]]$')).toEqual([']']);
    expect(await matching('^[\\d-]+$')).toEqual(['5-']);
    expect(await matching('^\\Qa-b\\E$')).toEqual(['a-b']);
    // Options at the very start are options.
    expect(await matching('(?i)^ABC$')).toEqual(['abc', 'abc\n']);
    expect(await matching('(?s)^a.b$')).toEqual(['a:b', 'a\rb', 'a-b']);
    for (const [regex, feature] of [
      ['a(?i)bc', 'inline option settings'],
      ['(?i:a)bc', 'inline option settings'],
      ['[[:^alpha:]]', 'negated POSIX class'],
      ['a++', 'possessive quantifiers'],
      ['(?>a)', 'atomic groups'],
      ['(a)(?1)', 'recursion'],
      ['\\R', '\\R'],
    ]) {
      const error = await rejection(matching(regex as string));
      expect(error).toMatchObject({ code: 115 });
      expect(error.message).toContain(feature);
    }
    await expect(matching('[a')).rejects.toMatchObject({ code: 51091 });
    await expect(matching('\\i')).rejects.toMatchObject({ code: 51091 });
    const explained = await c.find({ s: { $regex: 'abc$', $options: 'i' } }).explain();
    expect(explained['queryPlanner'].parsedQuery.s.$regex).toEqual(/abc$/i);
    // A regex as a value is compared by its pattern and options, not by its translation.
    await c.insertOne({ _id: 'value' as never, r: new BSONRegExp('abc$', 'i') });
    expect(await c.countDocuments({ r: { $eq: new BSONRegExp('abc$', 'i') } })).toBe(1);
  });
});
