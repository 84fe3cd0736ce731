import { Decimal128, Double, Int32, Long, ObjectId, type Collection, type Document } from 'mongodb';
import { harness, rejection, type Harness } from './support';

/** Aggregation expressions and accumulators, where mingo's JavaScript semantics differ from MongoDB's. */
describe('aggregation expressions with MongoDB semantics', () => {
  let h: Harness;
  let mixed: Collection<Document>;
  beforeAll(async () => {
    h = await harness();
    mixed = h.db.collection('mixed');
    await mixed.insertMany([{ _id: 1, a: 'x' }, { _id: 2, a: 3 }, { _id: 3, a: null }, { _id: 4 }] as never[]);
  });
  afterAll(async () => h.close());

  const ids = async (c: Collection<Document>, pipeline: Document[]) =>
    (await c.aggregate([...pipeline, { $project: { _id: 1 } }]).toArray()).map((d) => d['_id']);
  const codeOf = async (c: Collection<Document>, pipeline: Document[]) =>
    (await rejection(c.aggregate(pipeline).toArray()))['code'];

  it('compares across types in BSON order, with missing below null', async () => {
    expect(await ids(mixed, [{ $match: { $expr: { $gt: ['$a', 5] } } }])).toEqual([1]);
    expect(await ids(mixed, [{ $match: { $expr: { $lt: ['$a', 5] } } }])).toEqual([2, 3, 4]);
    expect(await ids(mixed, [{ $match: { $expr: { $eq: ['$a', null] } } }])).toEqual([3]);
    expect(await ids(mixed, [{ $match: { $expr: { $ne: ['$a', null] } } }])).toEqual([1, 2, 4]);
    expect(await ids(mixed, [{ $match: { $expr: { $lte: ['$a', null] } } }])).toEqual([3, 4]);
    const cond = await mixed.aggregate([{ $project: { t: { $cond: [{ $gt: ['$a', null] }, 'y', 'n'] } } }]).toArray();
    expect(cond.map((d) => d['t'])).toEqual(['y', 'y', 'n', 'n']);
    const cmp = await mixed.aggregate([{ $project: { c: { $cmp: ['$a', 3] } } }]).toArray();
    expect(cmp.map((d) => d['c'])).toEqual([1, 0, -1, -1]);
    // $in compares as $eq does: missing is not null, 3 equals 3.0 and Long(3).
    const within = await mixed.aggregate([{ $project: { n: { $in: ['$a', [null, Long.fromNumber(3)]] } } }]).toArray();
    expect(within.map((d) => d['n'])).toEqual([false, true, true, false]);
    expect(await codeOf(mixed, [{ $project: { n: { $in: ['$a', 'x'] } } }])).toBe(40081);
    expect(await codeOf(mixed, [{ $project: { n: { $gt: ['$a'] } } }])).toBe(16020);
  });

  it('takes $max and $min in BSON order, ignoring null and missing', async () => {
    const [group] = await mixed
      .aggregate([{ $group: { _id: null, mx: { $max: '$a' }, mn: { $min: '$a' } } }])
      .toArray();
    expect(group).toEqual({ _id: null, mx: 'x', mn: 3 });
    const decimals = h.db.collection('decimals');
    await decimals.insertMany(['9', '10', '2.5'].map((v) => ({ v: Decimal128.fromString(v) })));
    // Decimal128s compare as numbers, not as their strings ("9" > "10").
    const [extremes] = await decimals
      .aggregate([{ $group: { _id: null, mx: { $max: '$v' }, mn: { $min: '$v' } } }])
      .toArray();
    expect(String(extremes?.['mx'])).toBe('10');
    expect(String(extremes?.['mn'])).toBe('2.5');
    const [expression] = await mixed
      .aggregate([
        { $limit: 1 },
        {
          $project: {
            mx: { $max: [1, 'a', null] },
            mn: { $min: [[3, 1], 2] },
            one: { $min: [[3, 1]] },
            e: { $max: [] },
          },
        },
      ])
      .toArray();
    // With several operands an array is one value (above every number), not a list of them.
    expect(expression).toEqual({ _id: 1, mx: 'a', mn: 2, one: 1, e: null });
  });

  it('adds up exactly as MongoDB does, and refuses what it cannot add exactly', async () => {
    const numbers = h.db.collection('numbers');
    await numbers.insertMany([0.1, 0.2, 0.3].map((v) => ({ v })));
    // MongoDB's compensated sum gives the double nearest 0.6; adding left to right gives 0.6000000000000001.
    const [sums] = await numbers.aggregate([{ $group: { _id: null, s: { $sum: '$v' }, a: { $avg: '$v' } } }]).toArray();
    expect(sums).toEqual({ _id: null, s: 0.6, a: 0.19999999999999998 });
    const [inline] = await numbers
      .aggregate([{ $limit: 1 }, { $project: { _id: 0, s: { $sum: [0.1, 0.2, 0.3, 'x'] } } }])
      .toArray();
    expect(inline).toEqual({ s: 0.6 });
    const refused = h.db.collection('refused');
    await refused.insertMany([{ d: Decimal128.fromString('1.1'), l: Long.fromString('9007199254740993'), n: 1 }]);
    for (const pipeline of [
      [{ $group: { _id: null, s: { $sum: '$d' } } }],
      [{ $group: { _id: null, s: { $avg: '$d' } } }],
      [{ $project: { s: { $add: ['$d', 1] } } }],
      [{ $project: { s: { $multiply: ['$l', 2] } } }],
      [{ $project: { s: { $multiply: [Long.fromNumber(9007199254740991), 3] } } }],
    ]) {
      const error = await rejection(refused.aggregate(pipeline).toArray());
      expect(error).toMatchObject({ code: 115 });
      expect(error.message).toMatch(/\$(sum|avg|add|multiply) .*(Decimal128|2\^53)/);
    }
    // Doubles beyond 2^53 are added and multiplied as doubles, as MongoDB does; an int64's average is a double.
    const [doubles] = await refused
      .aggregate([
        {
          $project: {
            _id: 0,
            m: { $multiply: [9007199254740991, 3] },
            s: { $sum: [9007199254740991, 1] },
          },
        },
      ])
      .toArray();
    expect(doubles).toEqual({ m: 27021597764222972, s: 9007199254740992 });
    const [average] = await refused.aggregate([{ $group: { _id: null, a: { $avg: '$l' } } }]).toArray();
    expect(average).toEqual({ _id: null, a: 9007199254740992 });
  });

  it('groups, collects and compares sets by BSON value', async () => {
    const objects = h.db.collection('objects');
    await objects.insertMany([
      { k: { a: 1, b: 2 }, d: Decimal128.fromString('1.0') },
      { k: { b: 2, a: 1 }, d: Decimal128.fromString('1.00') },
      { k: { a: 1, b: 2 }, d: 1 },
      { k: { a: 1, b: 2 } },
    ]);
    // Field order matters in an embedded document; 1.0, 1.00 and 1 are one number.
    const byKey = await objects.aggregate([{ $group: { _id: '$k', n: { $sum: 1 } } }]).toArray();
    expect(byKey.map((g) => [JSON.stringify(g['_id']), g['n']])).toEqual([
      ['{"a":1,"b":2}', 3],
      ['{"b":2,"a":1}', 1],
    ]);
    const byNumber = await objects.aggregate([{ $group: { _id: '$d', n: { $sum: 1 } } }]).toArray();
    expect(byNumber.map((g) => g['n'])).toEqual([3, 1]);
    const [collected] = await objects
      .aggregate([{ $group: { _id: null, keys: { $addToSet: '$k' }, ds: { $push: '$d' }, set: { $addToSet: '$d' } } }])
      .toArray();
    expect(collected?.['keys']).toHaveLength(2);
    expect(collected?.['ds']).toHaveLength(3); // the missing one is skipped, as in MongoDB
    expect(collected?.['set']).toHaveLength(1);
    const [sets] = await objects
      .aggregate([
        { $limit: 1 },
        {
          $project: {
            _id: 0,
            union: {
              $setUnion: [
                [1, 2],
                [Long.fromNumber(2), 3],
              ],
            },
            equal: { $setEquals: [[{ a: 1, b: 2 }], [{ b: 2, a: 1 }]] },
            index: { $indexOfArray: [[1, 'a', 3.0], 3] },
          },
        },
      ])
      .toArray();
    expect(sets).toEqual({ union: [1, 2, 3], equal: false, index: 2 });
  });

  it("applies MongoDB's truthiness in conditions", async () => {
    const flags = h.db.collection('flags');
    await flags.insertMany([
      { _id: 'nan', f: Number.NaN },
      { _id: 'zero', f: Decimal128.fromString('0.00') },
      { _id: 'empty', f: '' },
      { _id: 'missing' },
    ] as never[]);
    expect(await ids(flags, [{ $match: { $expr: '$f' } }])).toEqual(['nan', 'empty']);
    const out = await flags
      .aggregate([
        {
          $project: {
            c: { $cond: ['$f', 1, 0] },
            s: { $switch: { branches: [{ case: '$f', then: 1 }], default: 0 } },
            and: { $and: ['$f', true] },
            not: { $not: ['$f'] },
            all: { $allElementsTrue: [['$f']] },
          },
        },
      ])
      .toArray();
    expect(out.map((d) => [d['_id'], d['c'], d['s'], d['and'], d['not'], d['all']])).toEqual([
      ['nan', 1, 1, true, false, true],
      ['zero', 0, 0, false, true, false],
      ['empty', 1, 1, true, false, true],
      ['missing', 0, 0, false, true, false],
    ]);
  });

  it('names BSON types as MongoDB does, int, long and double included', async () => {
    const types = h.db.collection('types');
    await types.insertOne({
      o: new ObjectId(),
      d: Decimal128.fromString('1'),
      l: Long.fromString('9007199254740993'),
      x: 2.5,
      s: 's',
      n: null,
      arr: [],
      t: new Date(0),
    });
    const [named] = await types
      .aggregate([
        {
          $project: {
            _id: 0,
            o: { $type: '$o' },
            d: { $type: '$d' },
            l: { $type: '$l' },
            x: { $type: '$x' },
            s: { $type: '$s' },
            n: { $type: '$n' },
            arr: { $type: '$arr' },
            t: { $type: '$t' },
            m: { $type: '$nothing' },
            ln: { $isNumber: '$l' },
          },
        },
      ])
      .toArray();
    expect(named).toEqual({
      o: 'objectId',
      d: 'decimal',
      l: 'long',
      x: 'double',
      s: 'string',
      n: 'null',
      arr: 'array',
      t: 'date',
      m: 'missing',
      ln: true,
    });
    const [integral] = await types
      .aggregate([
        {
          $project: {
            _id: 0,
            int: { $type: 3 },
            long: { $type: Long.fromNumber(3) },
            double: { $type: new Double(3) },
            sum: { $type: { $add: [new Int32(2147483647), 1] } },
          },
        },
      ])
      .toArray();
    expect(integral).toEqual({ int: 'int', long: 'long', double: 'double', sum: 'long' });
    const [strings] = await types
      .aggregate([{ $project: { _id: 0, l: { $toString: '$l' }, t: { $toString: '$t' } } }])
      .toArray();
    expect(strings).toEqual({ l: '9007199254740993', t: '1970-01-01T00:00:00.000Z' });
  });

  it('runs $regexMatch, $regexFind and $regexFindAll with PCRE semantics, indexes in code points', async () => {
    const texts = h.db.collection('texts');
    await texts.insertOne({ _id: 1 as never, s: 'abc\n', e: '😀a😀a' });
    const [out] = await texts
      .aggregate([
        {
          $project: {
            _id: 0,
            m: { $regexMatch: { input: '$s', regex: 'abc$' } },
            f: { $regexFind: { input: '$e', regex: 'a' } },
            all: { $regexFindAll: { input: '$e', regex: '(a)|(z)' } },
            none: { $regexFind: { input: '$missing', regex: 'a' } },
          },
        },
      ])
      .toArray();
    expect(out).toEqual({
      m: true,
      f: { match: 'a', idx: 1, captures: [] },
      all: [
        { match: 'a', idx: 1, captures: ['a', null] },
        { match: 'a', idx: 3, captures: ['a', null] },
      ],
      none: null,
    });
    expect(await codeOf(texts, [{ $project: { m: { $regexMatch: { input: '$s', regex: 'a(?i)b' } } } }])).toBe(115);
  });

  it('merges documents with $mergeObjects as MongoDB does, as an expression and in $group', async () => {
    const docs = h.db.collection('merge');
    await docs.insertMany([
      { _id: 1, a: { x: 1, y: 1 }, b: { y: 2, z: 2 } },
      { _id: 2, a: { x: 3 }, b: null },
      { _id: 3, a: 5 },
    ] as never[]);
    const project = async (expr: unknown, filter: Document = { _id: { $lt: 3 } }) =>
      (await docs.aggregate([{ $match: filter }, { $project: { _id: 0, m: expr } }]).toArray()).map((d) => d['m']);
    // A later value wins, in the place its name first took; null and missing add nothing.
    expect(await project({ $mergeObjects: ['$a', '$b', '$missing'] })).toEqual([{ x: 1, y: 2, z: 2 }, { x: 3 }]);
    expect(Object.keys((await project({ $mergeObjects: ['$a', '$b'] }))[0] as object)).toEqual(['x', 'y', 'z']);
    // One expression rather than a list (mingo refused it).
    expect(await project({ $mergeObjects: '$a' })).toEqual([{ x: 1, y: 1 }, { x: 3 }]);
    expect(await project({ $mergeObjects: [] })).toEqual([{}, {}]);
    expect(await codeOf(docs, [{ $project: { m: { $mergeObjects: ['$a', 5] } } }])).toBe(40400);
    expect(await codeOf(docs, [{ $project: { m: { $mergeObjects: ['$a', [1]] } } }])).toBe(40400);

    // The accumulator merges the expression's values (mingo's merged the grouped documents).
    const grouped = await docs
      .aggregate([
        { $match: { _id: { $lt: 3 } } },
        { $sort: { _id: 1 } },
        { $group: { _id: null, m: { $mergeObjects: '$b' } } },
      ])
      .toArray();
    expect(grouped).toEqual([{ _id: null, m: { y: 2, z: 2 } }]);
    expect(await codeOf(docs, [{ $group: { _id: null, m: { $mergeObjects: '$a' } } }])).toBe(40400);
    await docs.drop();
  });

  it('builds documents with $arrayToObject as MongoDB does: values as they are, string keys, one form', async () => {
    const from = async (expr: unknown) =>
      (await mixed.aggregate([{ $match: { _id: 1 } }, { $project: { _id: 0, m: expr } }]).toArray())[0]?.['m'];
    // A pair's value is kept whole (mingo flattened ['a', [1, 2]] into a: 1).
    expect(
      await from({
        $arrayToObject: {
          $literal: [
            ['a', [1, 2]],
            ['b', { c: 1 }],
          ],
        },
      }),
    ).toEqual({ a: [1, 2], b: { c: 1 } });
    // The documented forms: the argument list of one array, and { k, v } documents.
    expect(
      await from({
        $arrayToObject: [
          [
            { k: 'item', v: 'abc123' },
            { k: 'qty', v: 25 },
          ],
        ],
      }),
    ).toEqual({
      item: 'abc123',
      qty: 25,
    });
    expect(
      await from({
        $arrayToObject: {
          $literal: [
            ['item', 'abc123'],
            ['qty', 25],
          ],
        },
      }),
    ).toEqual({
      item: 'abc123',
      qty: 25,
    });
    // A repeated key keeps its first place and takes the last value.
    const repeated = await from({
      $arrayToObject: {
        $literal: [
          ['a', 1],
          ['b', 2],
          ['a', 3],
        ],
      },
    });
    expect(repeated).toEqual({ a: 3, b: 2 });
    expect(Object.keys(repeated as object)).toEqual(['a', 'b']);
    expect(await from({ $arrayToObject: { $literal: [] } })).toEqual({});
    expect(await from({ $arrayToObject: '$missing' })).toBeNull();
    for (const [expr, code] of [
      [{ $arrayToObject: 'x' }, 40386],
      [{ $arrayToObject: { $literal: [1] } }, 40398],
      [{ $arrayToObject: { $literal: [['a', 1], { k: 'b', v: 2 }] } }, 40396],
      [{ $arrayToObject: { $literal: [['a', 1, 2]] } }, 40397],
      [{ $arrayToObject: { $literal: [[1, 'a']] } }, 40395],
      [{ $arrayToObject: { $literal: [['a\u0000b', 1]] } }, 4940400],
      [{ $arrayToObject: { $literal: [{ k: 'a', v: 1 }, ['b', 2]] } }, 40391],
      [{ $arrayToObject: { $literal: [{ k: 'a', v: 1, w: 2 }] } }, 40392],
      [{ $arrayToObject: { $literal: [{ k: 'a', w: 1 }] } }, 40393],
      [{ $arrayToObject: { $literal: [{ k: 1, v: 1 }] } }, 40394],
      [{ $arrayToObject: { $literal: [{ k: 'a\u0000', v: 1 }] } }, 4940401],
      [{ $arrayToObject: [[], []] }, 16020],
    ] as [Document, number][]) {
      expect(await codeOf(mixed, [{ $project: { m: expr } }])).toBe(code);
    }
  });

  it('refuses the operators whose mingo versions sort, round or sample differently', async () => {
    for (const pipeline of [
      [{ $project: { s: { $sortArray: { input: [3, 1], sortBy: 1 } } } }],
      [{ $group: { _id: null, s: { $stdDevPop: '$a' } } }],
      [{ $group: { _id: null, s: { $topN: { n: 1, sortBy: { a: 1 }, output: '$a' } } } }],
      [{ $group: { _id: null, s: { $median: { input: '$a', method: 'approximate' } } } }],
    ]) {
      expect(await codeOf(mixed, pipeline)).toBe(115);
    }
    expect(await codeOf(mixed, [{ $group: { _id: null, s: { $frob: '$a' } } }])).toBe(15952);
  });
});
