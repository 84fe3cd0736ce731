import type { Collection, Document } from 'mongodb';
import { harness, rejection, type Harness } from './support';

/**
 * Field names that are also JavaScript property names (`__proto__`, `constructor`, `toString`…)
 * are ordinary field names to MongoDB. The server runs in this process, so a key that reached a
 * prototype would show on `Object.prototype` here.
 */

/** An object with an own `__proto__` field, as BSON decodes one (a literal would set the prototype). */
function withProto(value: unknown, rest: Document = {}): Document {
  const others = JSON.stringify(rest).slice(1);
  return JSON.parse(`{"__proto__": ${JSON.stringify(value)}${others === '}' ? '' : ','} ${others}`) as Document;
}

const PROTOTYPE_NAMES = ['isAdmin', 'x', 'polluted', 'y'];

function expectPrototypeUntouched(): void {
  for (const name of PROTOTYPE_NAMES) expect(Object.prototype).not.toHaveProperty(name);
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(BUILTIN_NAMES);
  expect(({} as Record<string, unknown>)['isAdmin']).toBeUndefined();
}

const BUILTIN_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();

describe('field names that exist on Object.prototype', () => {
  let h: Harness;
  let c: Collection<Document>;
  beforeAll(async () => {
    h = await harness();
    c = h.db.collection('proto');
  });
  afterAll(async () => h.close());
  afterEach(() => expectPrototypeUntouched());
  beforeEach(async () => c.deleteMany({}));

  it('upserting $set of __proto__.isAdmin stores a field and leaves Object.prototype alone', async () => {
    await c.updateOne({ _id: 'x' as never }, { $set: { '__proto__.isAdmin': true } }, { upsert: true });
    expectPrototypeUntouched();
    const doc = await c.findOne({ _id: 'x' as never });
    expect(doc && Object.hasOwn(doc, '__proto__')).toBe(true);
    expect(doc?.['__proto__']).toEqual({ isAdmin: true });
    expect(Object.keys(doc ?? {})).toEqual(['_id', '__proto__']);
    // Another database still answers as before.
    const other = h.client.db('other').collection('things');
    await other.insertOne({ _id: 1 as never, a: 1 });
    expect(await other.find({}, { projection: { a: 1 } }).toArray()).toEqual([{ _id: 1, a: 1 }]);
    expect(await other.countDocuments({ isAdmin: { $exists: true } })).toBe(0);
    await other.drop();
  });

  it('constructor.prototype.x, $setOnInsert and $rename into __proto__ are ordinary paths', async () => {
    await c.updateOne({ _id: 'a' as never }, { $set: { 'constructor.prototype.x': 1 } }, { upsert: true });
    expect(await c.findOne({ _id: 'a' as never })).toEqual({ _id: 'a', constructor: { prototype: { x: 1 } } });
    await c.updateOne({ _id: 'b' as never }, { $setOnInsert: { '__proto__.polluted': 1 } }, { upsert: true });
    expect(await c.findOne({ _id: 'b' as never })).toEqual(withProto({ polluted: 1 }, { _id: 'b' }));
    await c.insertOne({ _id: 'c' as never, p: { y: 1 } });
    await c.updateOne({ _id: 'c' as never }, { $rename: { p: '__proto__' } });
    const renamed = await c.findOne({ _id: 'c' as never });
    expect(renamed && Object.keys(renamed)).toEqual(['_id', '__proto__']);
    expect(renamed?.['__proto__']).toEqual({ y: 1 });
    await c.updateOne({ _id: 'c' as never }, { $rename: { '__proto__.y': 'toString' } });
    expect(await c.findOne({ _id: 'c' as never })).toEqual(withProto({}, { _id: 'c', toString: 1 }));
  });

  it('an upsert seeded from a __proto__ equality in the filter stores the field', async () => {
    await c.updateOne(withProto({ isAdmin: true }, { _id: 'seed' }), { $set: { n: 1 } }, { upsert: true });
    const doc = await c.findOne({ _id: 'seed' as never });
    expect(doc).toEqual(withProto({ isAdmin: true }, { _id: 'seed', n: 1 }));
  });

  it('queries on constructor, toString and __proto__ test the stored field only', async () => {
    await c.insertMany([{ _id: 1 as never, constructor: 'c' }, { _id: 2 as never, a: 1 }, withProto(5, { _id: 3 })]);
    const ids = async (filter: Document) => (await c.find(filter).toArray()).map((d) => d['_id'] as unknown as number);
    expect(await ids({ constructor: { $exists: true } })).toEqual([1]);
    expect(await ids({ constructor: { $exists: false } })).toEqual([2, 3]);
    expect(await ids({ 'constructor.name': { $exists: true } })).toEqual([]);
    expect(await ids({ toString: { $exists: true } })).toEqual([]);
    expect(await ids(withProto({ $exists: true }))).toEqual([3]);
    expect(await ids(withProto(5))).toEqual([3]);
    expect(await ids({ hasOwnProperty: null })).toEqual([1, 2, 3]);
  });

  it('$inc, $set and $unset on Object.prototype names work as on any field', async () => {
    await c.insertOne({ _id: 1 as never });
    await c.updateOne({ _id: 1 as never }, { $inc: { toString: 1 }, $set: { 'constructor.x': 1 } });
    expect(await c.findOne({ _id: 1 as never })).toEqual({ _id: 1, constructor: { x: 1 }, toString: 1 });
    await c.updateOne({ _id: 1 as never }, { $set: { valueOf: withProto({ a: 1 }, { b: 2 }) } });
    const doc = await c.findOne({ _id: 1 as never });
    expect(doc?.['valueOf']).toEqual(withProto({ a: 1 }, { b: 2 }));
    expect(Object.hasOwn(doc?.['valueOf'] as object, '__proto__')).toBe(true);
    await c.updateOne({ _id: 1 as never }, { $unset: { 'valueOf.__proto__': '', toString: '' } });
    expect(await c.findOne({ _id: 1 as never })).toEqual({ _id: 1, constructor: { x: 1 }, valueOf: { b: 2 } });
  });

  it('a document inserted with an own __proto__ key keeps it, in find, projection and replacement', async () => {
    await c.insertOne(withProto({ isAdmin: true }, { _id: 1, a: 1 }));
    const found = await c.findOne({ _id: 1 as never });
    expect(found && Object.keys(found)).toEqual(['_id', '__proto__', 'a']);
    expect(found?.['__proto__']).toEqual({ isAdmin: true });
    expect(Object.getPrototypeOf(found)).toBe(Object.prototype);
    // Projections run on mingo, which cannot read a `__proto__` field: refused, not answered wrongly.
    const refused = await rejection(c.findOne({ _id: 1 as never }, { projection: withProto(1) }));
    expect(refused.message).toMatch(/field name '__proto__' in a projection/);
    expect(await c.findOne({ _id: 1 as never }, { projection: { a: 0 } })).toEqual(
      withProto({ isAdmin: true }, { _id: 1 }),
    );
    expect(await c.findOne({ _id: 1 as never }, { projection: { constructor: 1, a: 1 } })).toEqual({ _id: 1, a: 1 });
    await c.replaceOne({ _id: 1 as never }, withProto({ isAdmin: false }, { b: 1 }));
    expect(await c.findOne({ _id: 1 as never })).toEqual(withProto({ isAdmin: false }, { _id: 1, b: 1 }));
  });

  it('aggregation stages never write a prototype: such keys are kept or refused with an error', async () => {
    await c.insertOne(withProto({ isAdmin: true }, { _id: 1, a: 1 }));
    const all = await c.aggregate([{ $match: {} }]).toArray();
    expect(all).toEqual([withProto({ isAdmin: true }, { _id: 1, a: 1 })]);
    const included = await c.aggregate([{ $project: { a: 1 } }]).toArray();
    expect(included).toEqual([{ _id: 1, a: 1 }]);
    for (const stage of [
      { $addFields: { '__proto__.isAdmin': true } },
      { $addFields: { 'constructor.prototype.x': 1 } },
      { $set: { __proto__: { isAdmin: true } } },
      { $project: { '__proto__.isAdmin': 1 } },
      { $project: { 'constructor.x': '$a' } },
      { $group: { _id: null, constructor: { $sum: 1 } } },
    ]) {
      const outcome = await c
        .aggregate([stage as Document])
        .toArray()
        .then(
          (docs) => ({ docs }),
          (error: Error & { code?: number }) => ({ error }),
        );
      expectPrototypeUntouched();
      if ('error' in outcome) expect(outcome.error.message).toMatch(/field name|prototype|__proto__|constructor/);
      else expect(outcome.docs.length).toBe(1);
    }
    const grouped = await c.aggregate([{ $group: { _id: null, constructor: { $sum: 1 } } }]).toArray();
    expect(grouped).toEqual([{ _id: null, constructor: 1 }]);
  });

  it('$mergeObjects and $arrayToObject keep an own __proto__ key as a field, as MongoDB does', async () => {
    await c.insertOne({
      _id: 1 as never,
      a: withProto({ isAdmin: true }, { b: 1 }),
      pairs: [
        ['__proto__', { isAdmin: true }],
        ['c', 2],
      ],
      kv: [{ k: '__proto__', v: { polluted: 1 } }],
    });
    const one = async (stage: Document) => (await c.aggregate([stage]).toArray())[0];
    const fieldsOf = (doc: unknown) => doc as Document;

    const merged = fieldsOf((await one({ $project: { _id: 0, m: { $mergeObjects: ['$a', { z: 1 }] } } }))?.['m']);
    expect(Object.keys(merged)).toEqual(['__proto__', 'b', 'z']);
    expect(merged).toEqual(withProto({ isAdmin: true }, { b: 1, z: 1 }));
    // A later document's __proto__ replaces the earlier one's value, as any field does.
    const later = fieldsOf(
      (await one({ $project: { m: { $mergeObjects: ['$a', { $arrayToObject: '$kv' }] } } }))?.['m'],
    );
    expect(later).toEqual(withProto({ polluted: 1 }, { b: 1 }));

    const fromPairs = fieldsOf((await one({ $project: { m: { $arrayToObject: '$pairs' } } }))?.['m']);
    expect(fromPairs).toEqual(withProto({ isAdmin: true }, { c: 2 }));
    const fromKv = fieldsOf((await one({ $project: { m: { $arrayToObject: '$kv' } } }))?.['m']);
    expect(fromKv).toEqual(withProto({ polluted: 1 }));
    // There and back: $objectToArray lists the field, $arrayToObject makes it again.
    const roundTrip = fieldsOf((await one({ $project: { m: { $arrayToObject: { $objectToArray: '$a' } } } }))?.['m']);
    expect(roundTrip).toEqual(withProto({ isAdmin: true }, { b: 1 }));

    const grouped = await c.aggregate([{ $group: { _id: null, m: { $mergeObjects: '$a' } } }]).toArray();
    expect(grouped).toEqual([{ _id: null, m: withProto({ isAdmin: true }, { b: 1 }) }]);

    // As a new root, the field stays a field: nothing is inherited through it by later stages.
    const root = await c
      .aggregate([{ $replaceWith: { $arrayToObject: '$pairs' } }, { $addFields: { seen: '$isAdmin' } }])
      .toArray();
    expect(root).toEqual([withProto({ isAdmin: true }, { c: 2 })]);
    const rootMerged = await c
      .aggregate([{ $replaceRoot: { newRoot: { $mergeObjects: ['$a'] } } }, { $addFields: { seen: '$isAdmin' } }])
      .toArray();
    expect(rootMerged).toEqual([withProto({ isAdmin: true }, { b: 1 })]);
  });
});
