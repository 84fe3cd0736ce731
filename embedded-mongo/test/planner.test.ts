import { Double, type Document } from 'bson';
import { runQuery } from '../src/query/execute';
import { compileFilter } from '../src/query/matcher';
import { literalPrefix } from '../src/query/planner';
import { parseSort, sortDocuments, sortKey } from '../src/query/sort';
import type { Collection } from '../src/storage/collection';
import { Engine } from '../src/storage/engine';
import { harness, type Harness } from './support';

/** The planner is checked by what it examines, never by how long it takes. */
describe('the index planner', () => {
  const engine = new Engine();
  const leads = engine.createCollection('db', 'leads', {});
  engine.createIndex(leads, { name: 'p_u', key: { projectId: 1, userId: 1 }, unique: true });
  engine.createIndex(leads, { name: 'p_email', key: { projectId: 1, email: 1 } });
  engine.createIndex(leads, { name: 'p_keys', key: { projectId: 1, searchKeys: 1 } });
  engine.createIndex(leads, { name: 'p_updated', key: { projectId: 1, updatedAt: -1 } });
  for (let i = 0; i < 5000; i++) {
    engine.insert(leads, {
      projectId: `p${i % 5}`,
      userId: `u${i}`,
      email: `user${i}@example.com`,
      searchKeys: [`name ${i}`, `user${i}@example.com`],
      updatedAt: new Date(1_700_000_000_000 + i * 1000),
    });
  }

  const run = (filter: Document, options: { sort?: Document; limit?: number; skip?: number } = {}) => {
    const sort = parseSort(options.sort);
    const result = runQuery(leads, compileFilter(filter), {
      ...(sort ? { sort } : {}),
      ...(options.limit ? { limit: options.limit } : {}),
      ...(options.skip ? { skip: options.skip } : {}),
    });
    const described = result.plan?.describe() as { stage: string; inputStage?: { indexName?: string } };
    const plan = described.inputStage?.indexName ? `IXSCAN ${described.inputStage.indexName}` : described.stage;
    return { docs: result.docs, plan, examined: result.docsExamined, keys: result.plan?.keysExamined() ?? 0 };
  };

  it('uses a sparse index for a query that cannot match a document without its field, and only then', () => {
    const marked = engine.createCollection('db', 'marked', {});
    engine.createIndex(marked, { name: 'due', key: { dueAt: 1 }, sparse: true });
    for (let i = 0; i < 2000; i++)
      engine.insert(marked, { n: i, ...(i % 100 === 0 ? { dueAt: new Date(1_700_000_000_000 + i) } : {}) });
    const query = (filter: Document, sort?: Document) => {
      const parsed = parseSort(sort);
      const result = runQuery(marked, compileFilter(filter), parsed ? { sort: parsed } : {});
      const described = result.plan?.describe() as { stage: string; inputStage?: { indexName?: string } };
      return {
        docs: result.docs,
        plan: described.inputStage?.indexName ?? described.stage,
        examined: result.docsExamined,
      };
    };
    const due = query({ dueAt: { $lte: new Date(1_700_000_000_000 + 1000) } }, { dueAt: 1 });
    expect(due.plan).toBe('due');
    expect(due.docs.map((d) => d['n'])).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(due.examined).toBe(11);
    // `null` also matches a missing field, which the sparse index does not hold.
    expect(query({ dueAt: null }).plan).toBe('COLLSCAN');
    expect(query({ dueAt: null }).docs).toHaveLength(1980);
    expect(query({ n: 5 }).plan).toBe('COLLSCAN');
  });

  it('answers a full unique key from the unique index', () => {
    const r = run({ projectId: 'p3', userId: 'u3' });
    expect(r.plan).toBe('IXSCAN p_u');
    expect(r.docs).toHaveLength(1);
    expect(r.examined).toBe(1);
  });

  it('answers an exact email through the email index, with other conditions checked on the candidates', () => {
    const r = run({ projectId: 'p1', email: 'user4001@example.com', mergedInto: { $exists: false } });
    expect(r.plan).toBe('IXSCAN p_email');
    expect(r.docs).toHaveLength(1);
    expect(r.examined).toBe(1);
  });

  it('answers an anchored prefix on a multikey array as a range, as a regex object or a $regex string', () => {
    const expected = Array.from({ length: 5000 }, (_, i) => i).filter((i) => i % 5 === 2 && String(i).startsWith('12'));
    for (const searchKeys of [/^user12/, { $regex: '^user12' }, { $regex: /^user12/ }]) {
      const r = run({ projectId: 'p2', searchKeys });
      expect(r.plan).toBe('IXSCAN p_keys');
      expect(r.docs.map((d) => d['userId']).sort()).toEqual(expected.map((i) => `u${i}`).sort());
      expect(r.examined).toBe(expected.length);
    }
    const escaped = run({ projectId: 'p2', searchKeys: { $regex: '^user12\\.\\-?' } });
    expect(escaped.plan).toBe('IXSCAN p_keys');
    expect(escaped.docs).toHaveLength(0);
    // Case-insensitive: not a range; still right.
    const insensitive = run({ projectId: 'p2', searchKeys: { $regex: '^USER12', $options: 'i' } });
    expect(insensitive.docs).toHaveLength(expected.length);
    expect(insensitive.examined).toBeGreaterThan(expected.length);
  });

  it('answers a range on the field after the equality prefix', () => {
    const r = run({ projectId: 'p0', updatedAt: { $gte: new Date(1_700_000_000_000 + 4990 * 1000) } });
    expect(r.plan).toBe('IXSCAN p_updated');
    expect(r.docs.map((d) => d['userId']).sort()).toEqual(['u4990', 'u4995']);
    expect(r.examined).toBe(2);
  });

  it('answers $in on leading fields and a $or of indexable branches from the indexes', () => {
    const inList = run({ projectId: { $in: ['p1', 'p2'] }, userId: { $in: ['u1', 'u2', 'u6', 'u7'] } });
    expect(inList.plan).toBe('IXSCAN p_u');
    expect(inList.docs.map((d) => d['userId']).sort()).toEqual(['u1', 'u2', 'u6', 'u7']);
    expect(inList.examined).toBe(4);
    const either = run({
      projectId: 'p1',
      $or: [{ email: 'user1@example.com' }, { userId: 'u6' }, { searchKeys: 'name 11' }],
    });
    expect(either.plan).toBe('SUBPLAN');
    expect(either.docs.map((d) => d['userId']).sort()).toEqual(['u1', 'u11', 'u6']);
    expect(either.examined).toBe(3);
  });

  it('walks an index in sort order and stops at the limit instead of sorting everything', () => {
    const newest = run({ projectId: 'p4' }, { sort: { updatedAt: -1 }, limit: 10 });
    expect(newest.plan).toBe('IXSCAN p_updated');
    expect(newest.docs.map((d) => d['userId'])).toEqual(Array.from({ length: 10 }, (_, i) => `u${4999 - i * 5}`));
    expect(newest.examined).toBe(10);
    const oldest = run({ projectId: 'p4' }, { sort: { updatedAt: 1 }, limit: 3, skip: 2 });
    expect(oldest.docs.map((d) => d['userId'])).toEqual(['u14', 'u19', 'u24']);
    expect(oldest.examined).toBe(5);
    // An index ordering the first sort field only: candidates come in order, ties are sorted.
    const page = run({ projectId: 'p4' }, { sort: { updatedAt: -1, _id: -1 }, limit: 10, skip: 10 });
    expect(page.plan).toBe('IXSCAN p_updated');
    expect(page.docs.map((d) => d['userId'])).toEqual(Array.from({ length: 10 }, (_, i) => `u${4949 - i * 5}`));
    expect(page.examined).toBe(21);
    const lastIds = run({}, { sort: { _id: -1 }, limit: 5 });
    expect(lastIds.plan).toBe('IXSCAN _id_');
    expect(lastIds.examined).toBe(5);
  });

  it('races an index-ordered plan against a narrower one, and never pays much more than the better', () => {
    const engine3 = new Engine();
    const coll = engine3.createCollection('db', 'race', {});
    engine3.createIndex(coll, { name: 'p_keys', key: { p: 1, keys: 1 } });
    engine3.createIndex(coll, { name: 'p_at', key: { p: 1, at: -1 } });
    for (let i = 0; i < 20_000; i++) engine3.insert(coll, { p: 'p', keys: [`k${i}`], at: i });
    const run3 = (filter: Document) => {
      const spec = parseSort({ at: -1 }) ?? [];
      const result = runQuery(coll, compileFilter(filter), { sort: spec, limit: 10 });
      return { ids: result.docs.map((d) => d['at'] as number), examined: result.docsExamined };
    };
    // Matches near the top of the sort order: walking p_at finds them at once.
    const recent = run3({ p: 'p', keys: /^k19/ });
    expect(recent.ids).toEqual(Array.from({ length: 10 }, (_, i) => 19_999 - i));
    expect(recent.examined).toBe(10);
    // Matches far down the sort order (k3, k30…k39, k300…k399, k3000…k3999): the ordered walk gives
    // up after as many documents as the prefix range holds (1,111), and the range answers.
    const far = run3({ p: 'p', keys: /^k3/ });
    expect(far.ids).toEqual(Array.from({ length: 10 }, (_, i) => 3_999 - i));
    expect(far.examined).toBeLessThanOrEqual(2 * 1_111 + 10);
  });

  it('looks _id up directly and scans only without a usable index', () => {
    const any = leads.docs.values().next().value as Document;
    expect(run({ _id: any['_id'] })).toMatchObject({ plan: 'IDHACK', examined: 1 });
    expect(run({ _id: { $in: [any['_id'], 'nope'] } })).toMatchObject({ plan: 'IDHACK', examined: 1 });
    expect(run({ email: 'user1@example.com' })).toMatchObject({ plan: 'COLLSCAN', examined: 5000 });
  });

  it('keeps inserts and unique checks cheap as the collection grows (counted comparisons)', () => {
    const perInsert = (collection: Collection, from: number, count: number) => {
      const list = collection.indexes.get('p_u')?.entries;
      const before = list?.comparisons ?? 0;
      const examined = collection.stats.docsExamined;
      for (let i = from; i < from + count; i++) engine.insert(collection, { projectId: 'px', userId: `x${i}` });
      expect(collection.stats.docsExamined).toBe(examined);
      return ((list?.comparisons ?? 0) - before) / count;
    };
    const small = engine.createCollection('db', 'small', {});
    engine.createIndex(small, { name: 'p_u', key: { projectId: 1, userId: 1 }, unique: true });
    perInsert(small, 0, 100);
    const atSmall = perInsert(small, 100, 100);
    perInsert(small, 200, 20_000);
    const atLarge = perInsert(small, 20_200, 100);
    // Logarithmic: 200× the documents costs a few more comparisons, not 200× more.
    expect(atLarge).toBeLessThan(atSmall * 3);
    expect(atLarge).toBeLessThan(60);
    expect(() => engine.insert(small, { projectId: 'px', userId: 'x5' })).toThrow(/E11000/);
  });

  it('answers equality and $in of whole subdocuments in a multikey array inside an $and (property filters)', () => {
    // Parley's `propIndex`: one `{ k, v }` per custom property value, behind the project.
    const props = engine.createCollection('db', 'props', {});
    engine.createIndex(props, { name: 'p_prop', key: { projectId: 1, propIndex: 1 } });
    for (let i = 0; i < 4000; i++) {
      engine.insert(props, {
        projectId: `p${i % 2}`,
        n: i,
        attributes: { plan: `plan${i % 50}`, seats: i % 40, tags: [`t${i % 3}`, `u${i % 7}`] },
        propIndex: [
          { k: 'plan', v: `plan${i % 50}` },
          { k: 'seats', v: i % 40 },
          { k: 'tags', v: `t${i % 3}` },
          { k: 'tags', v: `u${i % 7}` },
        ],
      });
    }
    const query = (filter: Document) => {
      const result = runQuery(props, compileFilter(filter));
      const described = result.plan?.describe() as { stage: string; inputStage?: { indexName?: string } };
      return {
        ns: result.docs.map((d) => d['n'] as number).sort((a, b) => a - b),
        plan: described.inputStage?.indexName ?? described.stage,
        examined: result.docsExamined,
      };
    };
    const both = query({
      projectId: 'p0',
      $and: [
        { $and: [{ propIndex: { k: 'seats', v: 4 } }, { 'attributes.seats': 4 }] },
        { $and: [{ propIndex: { k: 'plan', v: 'plan4' } }, { 'attributes.plan': 'plan4' }] },
      ],
    });
    const expected = Array.from({ length: 4000 }, (_, i) => i).filter(
      (i) => i % 2 === 0 && i % 40 === 4 && i % 50 === 4,
    );
    expect(both.ns).toEqual(expected);
    expect(both.plan).toBe('p_prop');
    // The narrower of the two point ranges, whichever comes first: 100 leads of p0 have seats 4, 80 have plan4.
    expect(both.examined).toBe(80);
    const reversed = query({
      projectId: 'p0',
      $and: [{ propIndex: { k: 'plan', v: 'plan4' } }, { propIndex: { k: 'seats', v: 4 } }],
    });
    expect(reversed).toEqual(both);
    const either = query({
      projectId: 'p1',
      $and: [
        {
          propIndex: {
            $in: [
              { k: 'plan', v: 'plan1' },
              { k: 'plan', v: 'plan3' },
            ],
          },
        },
        { 'attributes.plan': { $in: ['plan1', 'plan3'] } },
      ],
    });
    expect(either.plan).toBe('p_prop');
    expect(either.ns).toHaveLength(160);
    expect(either.examined).toBe(160);
    // A multiselect: each option is an entry of its own.
    const option = query({
      projectId: 'p1',
      $and: [{ propIndex: { k: 'tags', v: 'u3' } }, { 'attributes.tags': 'u3' }],
    });
    expect(option.plan).toBe('p_prop');
    expect(option.ns).toEqual(Array.from({ length: 4000 }, (_, i) => i).filter((i) => i % 2 === 1 && i % 7 === 3));
    expect(option.examined).toBe(option.ns.length);
    // Whole-subdocument equality is field-order sensitive, as in MongoDB.
    expect(query({ projectId: 'p1', propIndex: { v: 'u3', k: 'tags' } }).ns).toEqual([]);
    // A number matches a number of another BSON type, as in MongoDB's comparison.
    expect(query({ projectId: 'p0', propIndex: { k: 'seats', v: new Double(4) } }).ns).toHaveLength(100);
  });

  it('reads only literal anchored prefixes as ranges', () => {
    expect(literalPrefix(/^abc/)).toBe('abc');
    expect(literalPrefix(/^a\.b/)).toBe('a.b');
    expect(literalPrefix(/^ab*/)).toBe('a');
    expect(literalPrefix(/^abc/i)).toBeUndefined();
    expect(literalPrefix(/^abc/m)).toBeUndefined();
    expect(literalPrefix(/abc/)).toBeUndefined();
    expect(literalPrefix(/^abc|xyz/)).toBeUndefined();
    expect(literalPrefix(/^ab(c|d)/)).toBe('ab');
    expect(literalPrefix(/^(a+)+$/)).toBeUndefined();
    expect(literalPrefix(/^\d+/)).toBeUndefined();
    // Parley escapes user input this way (`\-` and `\/` are literal in PCRE and JavaScript).
    expect(literalPrefix(new RegExp('^mary\\-jane\\/x'))).toBe('mary-jane/x');
  });

  it('never changes an answer: every plan agrees with a full scan', () => {
    const engine2 = new Engine();
    const c = engine2.createCollection('db', 'random', {});
    engine2.createIndex(c, { name: 'a_b', key: { a: 1, b: -1 } });
    engine2.createIndex(c, { name: 'tags', key: { tags: 1 } });
    engine2.createIndex(c, { name: 'sub', key: { 'sub.k': 1 } });
    engine2.createIndex(c, { name: 'b_desc', key: { b: -1 } });
    engine2.createIndex(c, { name: 'b_sub', key: { b: 1, sub: 1 } });
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const values = [null, 0, 1, 2, 2.5, 'a', 'ab', 'abc', 'b', true, new Date(5), [1, 2], [], { x: 1 }];
    const pick = () => values[rand(values.length)];
    for (let i = 0; i < 400; i++) {
      const doc: Document = { _id: i };
      if (rand(5) > 0) doc['a'] = pick();
      if (rand(5) > 0) doc['b'] = rand(4);
      if (rand(3) > 0) doc['tags'] = rand(2) ? [pick(), pick()].filter((v) => !Array.isArray(v)) : pick();
      if (rand(3) > 0) doc['sub'] = rand(2) ? [{ k: pick() }, { j: 1 }] : { k: pick() };
      engine2.insert(c, doc);
    }
    const conditions = (): Document[] => [
      { a: pick() },
      { a: { $in: [pick(), pick()] } },
      { a: { $gt: pick() } },
      { a: { $lte: pick(), $gte: pick() } },
      { a: 'abc', b: { $gt: rand(4) } },
      { a: /^ab/ },
      { tags: pick() },
      { tags: { $gte: 1, $lt: 2 } },
      { 'sub.k': pick() },
      { 'sub.k': null },
      { $or: [{ a: pick() }, { tags: pick() }] },
      { a: { $eq: null }, b: rand(4) },
      { b: rand(4), sub: { k: pick() } },
      { b: rand(4), $and: [{ sub: { k: pick() } }, { sub: { j: 1 } }] },
      { b: rand(4), sub: { $in: [{ k: pick() }, { k: pick() }] } },
      { $and: [{ a: pick() }, { a: { $in: [pick(), pick()] } }], b: { $in: [rand(4), rand(4)] } },
      { $and: [{ tags: pick() }, { tags: pick() }] },
    ];
    for (let round = 0; round < 40; round++) {
      for (const filter of conditions()) {
        const matcher = compileFilter(filter);
        const expected = [...c.docs.values()].filter((d) => matcher.test(d)).map((d) => d['_id'] as number);
        const planned = runQuery(c, matcher).docs.map((d) => d['_id'] as number);
        expect({ filter, ids: planned.sort((x, y) => x - y) }).toEqual({ filter, ids: expected.sort((x, y) => x - y) });
        for (const sortSpec of [{ a: 1, b: -1 }, { b: 1 }, { _id: -1 }, { b: -1, _id: 1 }, { b: 1, a: 1 }]) {
          const spec = parseSort(sortSpec) ?? [];
          const sorted = runQuery(c, matcher, { sort: spec, limit: 7 }).docs;
          const reference = sortDocuments(
            [...c.docs.values()].filter((d) => matcher.test(d)),
            spec,
          ).slice(0, 7);
          expect(sorted.map((d) => sortKey(d, spec))).toEqual(reference.map((d) => sortKey(d, spec)));
        }
      }
    }
  });
});

describe('the planner through the driver (explain)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => h.close());

  it('uses a compound index for a contact search over many documents', async () => {
    const contacts = h.db.collection('contacts');
    await contacts.createIndex({ projectId: 1, searchKeys: 1 });
    const batch = Array.from({ length: 20_000 }, (_, i) => ({
      projectId: `p${i % 4}`,
      name: `Contact ${i}`,
      searchKeys: [`contact ${i}`, `mail${i}@example.com`, ...(i % 100 === 0 ? ['john doe'] : [])],
    }));
    await contacts.insertMany(batch);
    const explained = await contacts.find({ projectId: 'p0', searchKeys: /^jo/ }).explain('executionStats');
    expect(explained['queryPlanner'].winningPlan.inputStage).toMatchObject({
      stage: 'IXSCAN',
      indexName: 'projectId_1_searchKeys_1',
    });
    expect(explained['executionStats']).toMatchObject({
      nReturned: 200,
      totalDocsExamined: 200,
      totalKeysExamined: 200,
    });
    const found = await contacts
      .find({ projectId: 'p0', searchKeys: { $regex: '^john' } })
      .limit(5)
      .toArray();
    expect(found).toHaveLength(5);
  });
});
