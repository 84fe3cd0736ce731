import type { Lead, LeadBulkCompletedEvent, LeadSearchResponse } from '@parley/protocol';
import { startDatabase, type TestDatabase } from './support/database';
import { createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';
import { connectAgent, EventLog } from './support/sockets';
import { waitFor } from './support/wait';

/**
 * Contacts by filter tree, over real HTTP against a server process: typed conditions on built-in
 * fields and properties, free text that finds an email domain, keyset paging that stays exact while
 * contacts are added between pages, the capped total, the checks that name the offending
 * condition, and the CSV export of the same selection.
 */
describe('contact filters', () => {
  let database: TestDatabase;
  let server: ParleyProcess;
  let projectId: string;
  let owner: TestAgent;
  let agent: TestAgent;
  const created: Lead[] = [];

  beforeAll(async () => {
    database = await startDatabase();
    server = await startParley({ env: { MONGODB_URI: database.uri } });
    projectId = (await createProject(server.url)).project.id;
    owner = await createAgent(server.url, projectId, 'owner');
    agent = await createAgent(server.url, projectId, 'agent');
    for (const body of [
      { key: 'plan', label: 'Plan', type: 'select', options: ['free', 'pro'] },
      { key: 'seats', label: 'Seats', type: 'number' },
      { key: 'renewal', label: 'Renewal', type: 'date' },
    ]) {
      const res = await api().post(`${base()}/properties`, { token: owner.token, body });
      if (res.status !== 201) throw new Error(`property: ${res.status} ${res.text}`);
    }
    for (let i = 0; i < 24; i++) {
      const res = await api().post<Lead>(`${base()}/leads`, {
        token: agent.token,
        body: {
          fullname: `Person ${i}`,
          email: `p${i}@${i % 3 === 0 ? 'Example.com' : i % 3 === 1 ? 'sub.example.com' : 'other.org'}`,
          tags: i % 2 === 0 ? ['even'] : ['odd'],
          attributes: {
            plan: i % 4 === 0 ? 'pro' : 'free',
            seats: i,
            ...(i < 12 ? { renewal: `2027-01-${String(i + 1).padStart(2, '0')}` } : {}),
          },
        },
      });
      if (res.status !== 201) throw new Error(`lead: ${res.status} ${res.text}`);
      created.push(res.body);
    }
  }, 60_000);
  afterAll(async () => {
    await server.stop();
    server.cleanup();
    await database.stop();
  });

  const api = () => client(server.url);
  const base = () => `/v1/projects/${projectId}`;
  const search = (body: Record<string, unknown>) =>
    api().post<LeadSearchResponse>(`${base()}/leads/search`, { token: agent.token, body });
  const indexOf = (lead: Lead) => Number(lead.fullname?.split(' ')[1]);
  const matching = async (filter: unknown, extra: Record<string, unknown> = {}) => {
    const res = await search({ filter, limit: 100, ...extra });
    expect([res.status, res.text]).toEqual([200, expect.any(String)]);
    return res.body.items.map(indexOf).sort((x, y) => x - y);
  };
  const range = (pred: (i: number) => boolean) => [...Array(24).keys()].filter(pred);

  it('matches typed conditions on built-in fields and properties, with and/or', async () => {
    expect(await matching({ field: 'emailDomain', op: 'eq', value: 'example.com' })).toEqual(range((i) => i % 3 === 0));
    expect(
      await matching({
        and: [
          { field: 'properties.plan', op: 'eq', value: 'pro' },
          {
            or: [
              { field: 'tags', op: 'eq', value: 'even' },
              { field: 'properties.seats', op: 'gt', value: 100 },
            ],
          },
        ],
      }),
    ).toEqual(range((i) => i % 4 === 0));
    expect(await matching({ field: 'properties.seats', op: 'between', value: [5, 9] })).toEqual([5, 6, 7, 8, 9]);
    // Dates compare as dates: the 3rd to the 5th of January.
    expect(
      await matching({ field: 'properties.renewal', op: 'between', value: ['2027-01-03', '2027-01-05T23:59:59Z'] }),
    ).toEqual([2, 3, 4]);
    expect(await matching({ field: 'properties.renewal', op: 'exists', value: false })).toEqual(range((i) => i >= 12));
    expect(await matching({ field: 'email', op: 'startsWith', value: 'P1' })).toEqual([
      1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
    ]);
    expect(await matching({ field: 'name', op: 'contains', value: 'son 2' })).toEqual([2, 20, 21, 22, 23]);
    expect(await matching({ field: 'blocked', op: 'eq', value: false })).toEqual(range(() => true));
    expect(await matching({ field: 'conversationCount', op: 'gte', value: 1 })).toEqual([]);
  });

  it('filters on blocked as the blocking endpoints leave it, and forgets an unblocked lead', async () => {
    const blockedOnes = [created[3], created[7]] as Lead[];
    for (const lead of blockedOnes) {
      const res = await api().post(`${base()}/leads/${lead.id}/block`, { token: agent.token });
      expect([res.status, res.text]).toEqual([200, expect.any(String)]);
    }
    try {
      expect(await matching({ field: 'blocked', op: 'eq', value: true })).toEqual([3, 7]);
      expect(await matching({ field: 'blocked', op: 'neq', value: true })).toEqual(range((i) => i !== 3 && i !== 7));
      expect(await matching({ field: 'blocked', op: 'eq', value: false })).toEqual(range((i) => i !== 3 && i !== 7));
      expect(await matching({ field: 'blocked', op: 'exists', value: true })).toEqual([3, 7]);
      const unblocked = await api().post(`${base()}/leads/${created[3]?.id}/unblock`, { token: agent.token });
      expect(unblocked.status).toBe(200);
      expect(await matching({ field: 'blocked', op: 'eq', value: true })).toEqual([7]);
    } finally {
      for (const lead of blockedOnes) await api().post(`${base()}/leads/${lead.id}/unblock`, { token: agent.token });
    }
    expect(await matching({ field: 'blocked', op: 'eq', value: true })).toEqual([]);
  });

  it('finds every lead of an email domain by free text, and only those', async () => {
    expect(await matching(undefined, { q: 'example.com' })).toEqual(range((i) => i % 3 === 0));
    expect(await matching(undefined, { q: '@other.org' })).toEqual(range((i) => i % 3 === 2));
    // A prefix still finds by name.
    expect(await matching(undefined, { q: 'person 1' })).toEqual([1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('pages with a cursor, each lead exactly once, while leads are added between pages', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    let added = 0;
    for (let pages = 0; pages < 20; pages++) {
      const res = await search({
        sort: { field: 'properties.seats', order: 'asc' },
        limit: 5,
        ...(cursor ? { cursor } : {}),
      });
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((l) => Number(l.attributes['seats'] ?? -1)));
      // A lead that sorts before the page (no seats: first ascending) and one that sorts after it.
      await api().post(`${base()}/leads`, { token: agent.token, body: { fullname: `Late ${added}` } });
      await api().post(`${base()}/leads`, {
        token: agent.token,
        body: { fullname: `Later ${added}`, attributes: { seats: 1000 + added } },
      });
      added++;
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }
    // Leads without seats came first (24 + one added before the first page was read).
    const withSeats = seen.filter((s) => s >= 0);
    expect(withSeats.slice(0, 24)).toEqual([...Array(24).keys()]);
    // The later ones (seats 1000+) came after, in order, each once.
    const late = withSeats.slice(24);
    expect(late).toEqual([...late].sort((x, y) => x - y));
    expect(new Set(withSeats).size).toBe(withSeats.length);
    // A cursor of another sort is refused.
    const first = await search({ limit: 1 });
    const wrong = await search({ limit: 1, cursor: first.body.nextCursor, sort: { field: 'name' } });
    expect(wrong.status).toBe(400);
  });

  it('refuses unknown fields, wrong value types, too many conditions and too deep nesting, naming the condition', async () => {
    const cases: [unknown, string][] = [
      [
        {
          and: [
            { field: 'name', op: 'eq', value: 'x' },
            { field: 'nope', op: 'eq', value: 1 },
          ],
        },
        'filter.and[1]',
      ],
      [{ or: [{ field: 'properties.seats', op: 'eq', value: 'many' }] }, 'filter.or[0]'],
      [{ and: [{ or: [{ field: 'properties.plan', op: 'eq', value: 'gold' }] }] }, 'filter.and[0].or[0]'],
      [{ and: [{ field: 'properties.renewal', op: 'gt', value: 'tomorrow' }] }, 'filter.and[0]'],
      [{ and: [{ field: 'tags', op: 'gt', value: 'a' }] }, 'filter.and[0]'],
      [{ and: [{ field: 'properties.undefined_key', op: 'exists', value: true }] }, 'filter.and[0]'],
      [{ and: [{ or: [{ and: [{ or: [{ field: 'name', op: 'eq', value: 'x' }] }] }] }] }, 'filter.and[0].or[0].and[0]'],
      [
        {
          and: Array.from({ length: 20 }, () => ({
            or: [
              { field: 'name', op: 'eq', value: 'x' },
              { field: 'kind', op: 'eq', value: 'manual' },
            ],
          })),
        },
        'filter.and[10].or[0]',
      ],
    ];
    for (const [filter, path] of cases) {
      const res = await api().post<{ error: { code: string; details: { fields: { field: string }[] } } }>(
        `${base()}/leads/search`,
        { token: agent.token, body: { filter } },
      );
      expect([path, res.status, res.body.error?.code]).toEqual([path, 400, 'BAD_REQUEST']);
      expect([path, res.body.error.details.fields[0]?.field]).toEqual([path, path]);
    }
    const sort = await search({ sort: { field: 'tags' } });
    expect(sort.status).toBe(400);
  });

  it('reports an exact total up to 10,000, then 10,000 with totalCapped', async () => {
    const other = (await createProject(server.url)).project.id;
    const otherOwner = await createAgent(server.url, other, 'owner');
    const now = new Date();
    const docs = Array.from({ length: 10_001 }, (_, i) => ({
      _id: `bulk-${other}-${i}`,
      projectId: other,
      userId: `bulk-user-${i}`,
      kind: 'manual',
      attributes: {},
      tags: [],
      searchKeys: [],
      conversationCount: 0,
      rev: 0,
      createdAt: now,
      updatedAt: now,
    }));
    await database.db.collection('leads').insertMany(docs as never[]);
    const capped = await api().post<LeadSearchResponse>(`/v1/projects/${other}/leads/search`, {
      token: otherOwner.token,
      body: { limit: 1 },
    });
    expect([capped.body.total, capped.body.totalCapped]).toEqual([10_000, true]);
    await database.db.collection('leads').deleteOne({ _id: `bulk-${other}-0` } as never);
    const exact = await api().post<LeadSearchResponse>(`/v1/projects/${other}/leads/search`, {
      token: otherOwner.token,
      body: { limit: 1 },
    });
    expect([exact.body.total, exact.body.totalCapped]).toEqual([10_000, false]);
  }, 60_000);

  it('exports what a filter matches as CSV, with a column per property', async () => {
    const res = await api().post(`${base()}/leads/export.csv`, {
      token: owner.token,
      body: { filter: { field: 'properties.plan', op: 'eq', value: 'pro' } },
    });
    expect(res.status).toBe(200);
    const [header, ...rows] = res.text.trim().split('\r\n');
    expect(header?.endsWith(',properties.plan,properties.renewal,properties.seats')).toBe(true);
    expect(rows).toHaveLength(6);
    expect(rows[1]).toContain('"pro","2027-01-05T00:00:00.000Z","4"');
    const refused = await api().post(`${base()}/leads/export.csv`, {
      token: owner.token,
      body: { filter: { field: 'nope', op: 'eq', value: 1 } },
    });
    expect(refused.status).toBe(400);
  });

  it('backfills the email domain of leads stored before it existed, at start', async () => {
    const leads = database.db.collection<{ _id: string; emailDomain?: string }>('leads');
    const now = new Date();
    await leads.insertOne({
      _id: 'legacy-lead',
      projectId,
      userId: 'legacy-user',
      kind: 'manual',
      email: 'old@legacy.example',
      attributes: {},
      tags: [],
      searchKeys: ['old@legacy.example'],
      conversationCount: 0,
      rev: 0,
      createdAt: now,
      updatedAt: now,
    } as never);
    const second = await startParley({ env: { MONGODB_URI: database.uri } });
    try {
      await waitFor(
        'the backfilled domain',
        async () => (await leads.findOne({ _id: 'legacy-lead' }))?.emailDomain === 'legacy.example',
      );
      const found = await client(second.url).post<LeadSearchResponse>(`${base()}/leads/search`, {
        token: agent.token,
        body: { q: 'legacy.example' },
      });
      expect(found.body.items.map((l) => l.id)).toEqual(['legacy-lead']);
    } finally {
      await second.stop();
      second.cleanup();
    }
  }, 60_000);

  it('acts on every match in bulk, with one summary event to agents and webhooks', async () => {
    const hook = await api().post<{ webhook: { id: string } }>(`${base()}/webhooks`, {
      token: owner.token,
      body: { url: 'http://127.0.0.1:9/bulk', events: ['lead.bulk.completed'] },
    });
    expect(hook.status).toBe(201);
    const socket = await connectAgent(server.url, agent.token);
    const pushes = new EventLog(socket);
    try {
      const bulk = (
        action: Record<string, unknown>,
        filter: unknown = { field: 'emailDomain', op: 'eq', value: 'other.org' },
      ) => api().post<LeadBulkCompletedEvent>(`${base()}/leads/bulk`, { token: owner.token, body: { filter, action } });
      const domain = range((i) => i % 3 === 2);

      const added = await bulk({ type: 'addTags', tags: ['campaign'] });
      expect([added.status, added.body.matched, added.body.changed, added.body.failed]).toEqual([
        200,
        domain.length,
        domain.length,
        0,
      ]);
      expect(await matching({ field: 'tags', op: 'eq', value: 'campaign' })).toEqual(domain);
      // Agents hear each changed contact as any edit's `lead.updated`: open contact views stay current.
      const tagged = (p: { lead: Lead; changes: string[] }) =>
        p.changes.includes('tags') && p.lead.tags.includes('campaign');
      await waitFor('a lead.updated per tagged contact', () =>
        pushes.of<{ lead: Lead; changes: string[] }>('lead.updated').filter(tagged).length >= domain.length
          ? true
          : undefined,
      );
      // Again: every match already has it.
      expect((await bulk({ type: 'addTags', tags: ['campaign'] })).body.changed).toBe(0);
      const event = await pushes.wait<LeadBulkCompletedEvent>(
        'lead.bulk.completed',
        (p) => p.bulkId === added.body.bulkId,
      );
      expect(event).toEqual(added.body);
      const updates = pushes.of<{ lead: Lead; changes: string[] }>('lead.updated').filter(tagged);
      expect(updates.map((p) => indexOf(p.lead)).sort((a, b) => a - b)).toEqual(domain);

      const set = await bulk({ type: 'setProperty', key: 'seats', value: '500' });
      expect(set.body.changed).toBe(domain.length);
      expect(await matching({ field: 'properties.seats', op: 'eq', value: 500 })).toEqual(domain);
      const wrong = await bulk({ type: 'setProperty', key: 'seats', value: 'many' });
      expect(wrong.status).toBe(400);
      expect((await bulk({ type: 'removeTags', tags: ['campaign'] })).body.changed).toBe(domain.length);

      const doomed = await bulk(
        { type: 'delete' },
        {
          and: [
            { field: 'emailDomain', op: 'eq', value: 'other.org' },
            { field: 'tags', op: 'eq', value: 'odd' },
          ],
        },
      );
      const odd = domain.filter((i) => i % 2 === 1);
      expect([doomed.body.matched, doomed.body.changed]).toEqual([odd.length, odd.length]);
      expect(await matching({ field: 'emailDomain', op: 'eq', value: 'other.org' })).toEqual(
        domain.filter((i) => i % 2 === 0),
      );

      // The webhook got one delivery per bulk, not one per contact.
      await waitFor(
        'bulk deliveries',
        async () =>
          (await database.db.collection('webhook_deliveries').countDocuments({ eventType: 'lead.bulk.completed' })) ===
          5,
      );
      expect(
        await database.db.collection('webhook_deliveries').countDocuments({ webhookId: hook.body.webhook.id }),
      ).toBe(5);
    } finally {
      socket.close();
    }
  });
});
