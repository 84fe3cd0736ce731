import { MongoClient, Decimal128, Double, Int32, Long, type Collection, type Document } from 'mongodb';
import { startEmbeddedMongo } from '../src';
import { harness, tempDir, type Harness } from './support';

/** The BSON type of a value read with `promoteValues: false`. */
function bsonType(value: unknown): string {
  if (value instanceof Int32) return 'int';
  if (value instanceof Long) return 'long';
  if (value instanceof Double) return 'double';
  if (value instanceof Decimal128) return 'decimal';
  return typeof value;
}

const RAW = { promoteValues: false } as const;

/** `{ field: 'int:5' }` for each numeric field: type and value, as stored. */
function typed(doc: Document | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc ?? {})) {
    if (key !== '_id') out[key] = `${bsonType(value)}:${String(value)}`;
  }
  return out;
}

const SAMPLE = {
  long: Long.fromNumber(37),
  double: new Double(1),
  int: new Int32(5),
  decimal: Decimal128.fromString('1.50'),
  negativeZero: new Double(-0),
};

const SAMPLE_TYPED = {
  long: 'long:37',
  double: 'double:1',
  int: 'int:5',
  decimal: 'decimal:1.50',
  negativeZero: 'double:0',
};

/** MongoDB keeps each number's BSON type: int32, int64, double and Decimal128 come back as stored. */
describe('numeric BSON types', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.close());

  let n = 0;
  const fresh = (): Collection => h.db.collection(`numbers${++n}`);

  it('keeps Int32, Long, Double and Decimal128 through insert and find, getMore and aggregate', async () => {
    const c = fresh();
    await c.insertOne({ _id: 1 as never, ...SAMPLE });
    expect(typed(await c.findOne({ _id: 1 as never }, RAW))).toEqual(SAMPLE_TYPED);
    const negativeZero = (await c.findOne({ _id: 1 as never }, RAW))?.['negativeZero'] as Double;
    expect(Object.is(negativeZero.value, -0)).toBe(true);

    await c.insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: (i + 2) as never, ...SAMPLE })));
    const batched = await c.find({}, { ...RAW, batchSize: 2 }).toArray();
    expect(batched.map(typed)).toEqual(Array.from({ length: 6 }, () => SAMPLE_TYPED));
    const aggregated = await c
      .aggregate([{ $match: { _id: 1 } }, { $project: { long: 1, double: 1, int: 1, decimal: 1 } }], RAW)
      .toArray();
    const { negativeZero: _, ...projected } = SAMPLE_TYPED;
    expect(aggregated.map(typed)).toEqual([projected]);
  });

  it('answers int64 as bigint with useBigInt64, and a double as a number', async () => {
    const c = fresh();
    await c.insertOne({ _id: 1 as never, long: Long.fromNumber(37), double: new Double(1), int: 5 });
    const back = await c.findOne({ _id: 1 as never }, { useBigInt64: true });
    expect(back?.['long']).toBe(37n);
    expect(back?.['double']).toBe(1);
    expect(back?.['int']).toBe(5);
  });

  it('keeps the types through $set, $setOnInsert, upserts, replacements and findAndModify', async () => {
    const c = fresh();
    await c.insertOne({ _id: 1 as never });
    await c.updateOne({ _id: 1 as never }, { $set: SAMPLE });
    expect(typed(await c.findOne({ _id: 1 as never }, RAW))).toEqual(SAMPLE_TYPED);

    await c.updateOne({ _id: 2 as never }, { $setOnInsert: SAMPLE }, { upsert: true });
    expect(typed(await c.findOne({ _id: 2 as never }, RAW))).toEqual(SAMPLE_TYPED);

    // An upsert seeded from the filter's equality keeps the filter's types.
    await c.updateOne(
      { _id: 3 as never, long: Long.fromNumber(37) },
      { $set: { double: new Double(2) } },
      { upsert: true },
    );
    expect(typed(await c.findOne({ _id: 3 as never }, RAW))).toEqual({ long: 'long:37', double: 'double:2' });

    await c.replaceOne({ _id: 1 as never }, { long: Long.fromNumber(8), double: new Double(3) });
    expect(typed(await c.findOne({ _id: 1 as never }, RAW))).toEqual({ long: 'long:8', double: 'double:3' });

    const after = await c.findOneAndUpdate(
      { _id: 1 as never },
      { $set: { int: new Int32(9), decimal: Decimal128.fromString('2.0') } },
      { returnDocument: 'after', ...RAW },
    );
    expect(typed(after)).toEqual({ long: 'long:8', double: 'double:3', int: 'int:9', decimal: 'decimal:2.0' });
  });

  it('follows MongoDB type promotion in $inc and $mul', async () => {
    const c = fresh();
    await c.insertOne({
      _id: 1 as never,
      int: new Int32(5),
      nearMax: new Int32(2147483647),
      long: Long.fromNumber(37),
      double: new Double(1),
      intTimesDouble: new Int32(3),
      longTimesInt: Long.fromNumber(4),
      bigLong: Long.fromString('9223372036854775806'),
    });
    await c.updateOne(
      { _id: 1 as never },
      {
        $inc: {
          int: new Int32(1),
          nearMax: new Int32(1),
          long: new Int32(1),
          double: new Int32(1),
          created: Long.fromNumber(2),
        },
        $mul: { intTimesDouble: new Double(2), longTimesInt: new Int32(3), absentDouble: new Double(5) },
      },
    );
    expect(typed(await c.findOne({ _id: 1 as never }, RAW))).toEqual({
      int: 'int:6',
      nearMax: 'long:2147483648',
      long: 'long:38',
      double: 'double:2',
      intTimesDouble: 'double:6',
      longTimesInt: 'long:12',
      bigLong: 'long:9223372036854775806',
      created: 'long:2',
      absentDouble: 'double:0',
    });
    // An int64 overflow is refused, as MongoDB refuses it; the document stays as it was.
    await expect(c.updateOne({ _id: 1 as never }, { $inc: { bigLong: new Int32(5) } })).rejects.toMatchObject({
      code: 2,
    });
    // Decimal128 arithmetic is refused with a clear error, never answered wrongly.
    await expect(
      c.updateOne({ _id: 1 as never }, { $inc: { int: Decimal128.fromString('1.5') } }),
    ).rejects.toMatchObject({ code: 115 });
    expect(typed(await c.findOne({ _id: 1 as never }, RAW))['bigLong']).toBe('long:9223372036854775806');
  });

  it('matches, indexes and sorts numbers of different types by value', async () => {
    const c = fresh();
    await c.insertMany([
      { _id: 'long' as never, n: Long.fromNumber(37) },
      { _id: 'double' as never, n: new Double(2.5) },
      { _id: 'int' as never, n: new Int32(40) },
      { _id: 'integralDouble' as never, n: new Double(1) },
      { _id: 'decimal' as never, n: Decimal128.fromString('38.5') },
    ]);
    const ids = async (filter: Document) =>
      (await c.find(filter).sort({ n: 1 }).toArray()).map((d) => d['_id'] as unknown);
    expect(await ids({ n: 37 })).toEqual(['long']);
    expect(await ids({ n: new Double(37) })).toEqual(['long']);
    expect(await ids({ n: 1 })).toEqual(['integralDouble']);
    expect(await ids({ n: { $in: [Long.fromNumber(40), 1] } })).toEqual(['integralDouble', 'int']);
    expect(await ids({})).toEqual(['integralDouble', 'double', 'long', 'decimal', 'int']);
    await c.createIndex({ n: 1 });
    expect(await ids({ n: { $gte: 37 } })).toEqual(['long', 'decimal', 'int']);
    expect(await ids({ n: 37 })).toEqual(['long']);
    const descending = await c.find({}, RAW).sort({ n: -1 }).toArray();
    expect(descending.map((d) => bsonType(d['n']))).toEqual(['int', 'decimal', 'long', 'double', 'double']);
  });

  it('gives $group $sum the type MongoDB gives it', async () => {
    const c = fresh();
    await c.insertMany([
      { g: 'ints', v: new Int32(1) },
      { g: 'ints', v: new Int32(2) },
      { g: 'overflow', v: new Int32(2147483647) },
      { g: 'overflow', v: new Int32(1) },
      { g: 'longs', v: Long.fromNumber(1) },
      { g: 'longs', v: new Int32(2) },
      { g: 'doubles', v: new Int32(1) },
      { g: 'doubles', v: new Double(2) },
      { g: 'avg', v: new Int32(1) },
      { g: 'avg', v: new Int32(3) },
    ]);
    const sums = await c
      .aggregate([{ $group: { _id: '$g', sum: { $sum: '$v' }, avg: { $avg: '$v' } } }, { $sort: { _id: 1 } }], RAW)
      .toArray();
    expect(sums.map((d) => [d['_id'], `${bsonType(d['sum'])}:${String(d['sum'])}`, bsonType(d['avg'])])).toEqual([
      ['avg', 'int:4', 'double'],
      ['doubles', 'double:3', 'double'],
      ['ints', 'int:3', 'double'],
      ['longs', 'long:3', 'double'],
      ['overflow', 'long:2147483648', 'double'],
    ]);
  });

  it('keeps the types across a restart from the journal', async () => {
    const temp = tempDir();
    try {
      const first = await startEmbeddedMongo({ dbPath: temp.dir });
      const client = new MongoClient(`${first.uri}/db`);
      await client.connect();
      await client
        .db()
        .collection('kept')
        .insertOne({ _id: 1 as never, ...SAMPLE });
      await client
        .db()
        .collection('kept')
        .updateOne({ _id: 1 as never }, { $inc: { long: new Int32(1) }, $set: { added: new Double(7) } });
      await client.close();
      await first.stop();

      const second = await startEmbeddedMongo({ dbPath: temp.dir });
      const again = new MongoClient(`${second.uri}/db`);
      await again.connect();
      try {
        expect(typed(await again.db().collection('kept').findOne({}, RAW))).toEqual({
          ...SAMPLE_TYPED,
          long: 'long:38',
          added: 'double:7',
        });
      } finally {
        await again.close();
        await second.stop();
      }
    } finally {
      temp.remove();
    }
  });
});
