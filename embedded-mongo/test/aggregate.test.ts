import { ObjectId, type Collection, type Document } from 'mongodb';
import { harness, rejection, type Harness } from './support';

describe('aggregate', () => {
  let h: Harness;
  let people: Collection<Document>;
  beforeAll(async () => {
    h = await harness();
    people = h.db.collection('people');
    await people.insertMany([
      { _id: 1 as never, name: 'ann', team: 'red', age: 30, tags: ['a', 'b'], address: { city: 'Oslo' } },
      { _id: 2 as never, name: 'bob', team: 'blue', age: 25, tags: ['b'], address: { city: 'Rome' } },
      { _id: 3 as never, name: 'cid', team: 'red', age: 41, tags: [], address: { city: 'Oslo' } },
      { _id: 4 as never, name: 'dan', team: 'green', age: 35 },
    ]);
  });
  afterAll(async () => h.close());

  const run = (pipeline: Document[], options: Document = {}) => people.aggregate(pipeline, options).toArray();

  it('runs $match, $sort, $skip, $limit, $project and $count', async () => {
    expect(
      await run([
        { $match: { age: { $gte: 30 } } },
        { $sort: { age: -1 } },
        { $skip: 1 },
        { $limit: 2 },
        { $project: { _id: 0, name: 1 } },
      ]),
    ).toEqual([{ name: 'dan' }, { name: 'ann' }]);
    expect(await run([{ $match: { team: 'red' } }, { $count: 'reds' }])).toEqual([{ reds: 2 }]);
    expect(await run([{ $match: { team: 'none' } }, { $count: 'n' }])).toEqual([]);
    expect(await run([{ $project: { name: 1, city: '$address.city', _id: 0 } }, { $match: { city: 'Rome' } }])).toEqual(
      [{ name: 'bob', city: 'Rome' }],
    );
  });

  it('runs $group with accumulators', async () => {
    const teams = await run([
      {
        $group: {
          _id: '$team',
          n: { $sum: 1 },
          avg: { $avg: '$age' },
          oldest: { $max: '$age' },
          names: { $push: '$name' },
        },
      },
      { $sort: { _id: 1 } },
    ]);
    expect(teams).toEqual([
      { _id: 'blue', n: 1, avg: 25, oldest: 25, names: ['bob'] },
      { _id: 'green', n: 1, avg: 35, oldest: 35, names: ['dan'] },
      { _id: 'red', n: 2, avg: 35.5, oldest: 41, names: ['ann', 'cid'] },
    ]);
    expect(await run([{ $group: { _id: null, total: { $sum: '$age' }, tags: { $addToSet: '$team' } } }])).toEqual([
      { _id: null, total: 131, tags: expect.arrayContaining(['red', 'blue', 'green']) },
    ]);
  });

  it('runs $unwind, $addFields/$set, $unset, $replaceRoot/$replaceWith and $sortByCount', async () => {
    expect(await run([{ $unwind: '$tags' }, { $project: { _id: 1, tags: 1 } }])).toEqual([
      { _id: 1, tags: 'a' },
      { _id: 1, tags: 'b' },
      { _id: 2, tags: 'b' },
    ]);
    expect(
      await run([
        { $unwind: { path: '$tags', preserveNullAndEmptyArrays: true } },
        { $match: { _id: { $in: [3, 4] } } },
        { $project: { tags: 1 } },
      ]),
    ).toEqual([{ _id: 3 }, { _id: 4 }]);
    expect(
      await run([
        { $match: { _id: 1 } },
        { $addFields: { next: { $add: ['$age', 1] } } },
        { $set: { 'address.zip': '0150' } },
        { $unset: ['tags', 'team'] },
      ]),
    ).toEqual([{ _id: 1, name: 'ann', age: 30, address: { city: 'Oslo', zip: '0150' }, next: 31 }]);
    expect(await run([{ $match: { _id: 2 } }, { $replaceRoot: { newRoot: '$address' } }])).toEqual([{ city: 'Rome' }]);
    expect(await run([{ $match: { _id: 2 } }, { $replaceWith: { n: '$name' } }])).toEqual([{ n: 'bob' }]);
    expect(await run([{ $unwind: '$tags' }, { $sortByCount: '$tags' }])).toEqual([
      { _id: 'b', count: 2 },
      { _id: 'a', count: 1 },
    ]);
  });

  it('never changes stored documents, whatever a stage does to its input', async () => {
    const before = await people.find({}).sort({ _id: 1 }).toArray();
    await run([{ $addFields: { 'address.city': 'X', extra: 1 } }, { $unset: 'name' }]);
    await run([
      { $group: { _id: null, all: { $push: '$address' } } },
      { $unwind: '$all' },
      { $set: { 'all.mutated': true } },
    ]);
    await run([{ $facet: { a: [{ $set: { 'address.city': 'Y' } }], b: [{ $count: 'n' }] } }]);
    await run([
      { $lookup: { from: 'people', localField: 'team', foreignField: 'team', as: 'mates' } },
      { $unwind: '$mates' },
      { $set: { 'mates.name': 'changed' } },
    ]);
    expect(await people.find({}).sort({ _id: 1 }).toArray()).toEqual(before);
  });

  it('runs $lookup on another collection of the database, with arrays and missing fields', async () => {
    const teams = h.db.collection('teams');
    await teams.insertMany([
      { _id: 'red' as never, colour: '#f00' },
      { _id: 'blue' as never, colour: '#00f' },
    ]);
    const joined = await run([
      { $lookup: { from: 'teams', localField: 'team', foreignField: '_id', as: 'teamDoc' } },
      { $project: { _id: 1, colours: '$teamDoc.colour' } },
      { $sort: { _id: 1 } },
    ]);
    expect(joined).toEqual([
      { _id: 1, colours: ['#f00'] },
      { _id: 2, colours: ['#00f'] },
      { _id: 3, colours: ['#f00'] },
      { _id: 4, colours: [] },
    ]);
    const posts = h.db.collection('posts');
    const [p1, p2] = [new ObjectId(), new ObjectId()];
    await posts.insertMany([
      { _id: p1, tags: ['a', 'b'], title: 'one' },
      { _id: p2, tags: ['b'], title: 'two' },
      { title: 'untagged' },
    ]);
    // A local array joins on its elements; a foreign array on each of its elements.
    const byTag = await run([
      { $match: { _id: { $in: [1, 4] } } },
      { $lookup: { from: 'posts', localField: 'tags', foreignField: 'tags', as: 'posts' } },
      { $project: { titles: '$posts.title' } },
      { $sort: { _id: 1 } },
    ]);
    expect(byTag).toEqual([
      { _id: 1, titles: ['one', 'two'] },
      { _id: 4, titles: ['untagged'] },
    ]);
    // Through an index on the foreign field, the same answers.
    await posts.createIndex({ tags: 1 });
    expect(
      await run([
        { $match: { _id: { $in: [1, 4] } } },
        { $lookup: { from: 'posts', localField: 'tags', foreignField: 'tags', as: 'posts' } },
        { $project: { titles: '$posts.title' } },
        { $sort: { _id: 1 } },
      ]),
    ).toEqual(byTag);
    expect(
      await run([
        { $match: { _id: 1 } },
        { $lookup: { from: 'nope', localField: 'team', foreignField: 'x', as: 'none' } },
        { $project: { none: 1 } },
      ]),
    ).toEqual([{ _id: 1, none: [] }]);
  });

  it('runs $facet', async () => {
    expect(
      await run([
        { $match: { age: { $gt: 20 } } },
        {
          $facet: {
            count: [{ $count: 'n' }],
            youngest: [{ $sort: { age: 1 } }, { $limit: 1 }, { $project: { name: 1, _id: 0 } }],
          },
        },
      ]),
    ).toEqual([{ count: [{ n: 4 }], youngest: [{ name: 'bob' }] }]);
  });

  it('returns large results in batches', async () => {
    const many = h.db.collection('many');
    await many.insertMany(Array.from({ length: 450 }, (_, i) => ({ i })));
    const first = await h.db.command({
      aggregate: 'many',
      pipeline: [{ $sort: { i: 1 } }],
      cursor: { batchSize: 100 },
    });
    expect(first['cursor'].firstBatch).toHaveLength(100);
    expect(String(first['cursor'].id)).not.toBe('0');
    const all = await many.aggregate([{ $sort: { i: -1 } }], { batchSize: 50 }).toArray();
    expect(all.map((d) => d['i'])).toEqual(Array.from({ length: 450 }, (_, i) => 449 - i));
    const defaultBatch = await h.db.command({ aggregate: 'many', pipeline: [], cursor: {} });
    expect(defaultBatch['cursor'].firstBatch).toHaveLength(101);
  });

  it('refuses stages and options it does not implement, by name', async () => {
    const codeOf = async (pipeline: Document[], extra: Document = {}) =>
      (await rejection(h.db.command({ aggregate: 'people', pipeline, cursor: {}, ...extra })))['code'];
    expect(await codeOf([{ $out: 'x' }])).toBe(115);
    expect(await codeOf([{ $merge: { into: 'x' } }])).toBe(115);
    expect(await codeOf([{ $graphLookup: {} }])).toBe(115);
    expect(await codeOf([{ $lookup: { from: 'teams', pipeline: [], as: 'x' } }])).toBe(115);
    expect(await codeOf([{ $frobnicate: {} }])).toBe(40415);
    expect(await codeOf([{ $project: { f: { $function: { body: 'x', args: [], lang: 'js' } } } }])).toBe(115);
    expect(await codeOf([{ $match: { $where: 'true' } }])).toBe(115);
    expect(await codeOf([], { collation: { locale: 'en' } })).toBe(115);
    expect(await codeOf([], { let: { x: 1 } })).toBe(115);
    expect(await codeOf([{ $limit: 0 }])).toBe(2);
    expect(await codeOf([{ $project: { a: { $nonsenseOperator: 1 } } }])).toBe(2);
    await expect(people.watch().tryNext()).rejects.toMatchObject({ code: 115 });
  });
});
