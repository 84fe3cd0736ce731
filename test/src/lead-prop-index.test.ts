import type { Lead, LeadBulkCompletedEvent, LeadImportResponse, LeadSearchResponse, Property } from '@parley/protocol';
import { LeadFilterSearch } from '@parley/server/dist/leads/lead-filter-search';
import { propIndexOf } from '@parley/server/dist/leads/lead-prop-index';
import type { PropertyDoc } from '@parley/server/dist/properties/property-model';
import type { LeadUpdateResult } from '@parley/protocol';
import { startCluster, type Cluster } from './support/cluster';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';
import { connectVisitor, ok } from './support/sockets';
import { waitFor } from './support/wait';

interface StoredLead {
  _id: string;
  projectId: string;
  attributes: Record<string, unknown>;
  propIndex?: { k: string; v: unknown }[];
  mergedInto?: string;
}

const INDEX = 'projectId_1_propIndex_1';

/**
 * Filters on custom properties are served by the `{ projectId, propIndex }` index (issue 15): on
 * two nodes sharing one database, every kind of write of a lead's attributes (an agent's and a
 * visitor's profile change, a bulk action, a property's deletion and type change, an import, a
 * merge) leaves `propIndex` true, so the filters find exactly the right contacts; a lead stored
 * before the field existed is found after a restart (the backfill); and the query the server runs
 * is answered through the index, not by a scan.
 */
describe('property filters through the property index', () => {
  let cluster: Cluster;
  let projectId: string;
  let owner: TestAgent;
  let agent: TestAgent;
  const sockets: { close(): void }[] = [];
  const properties = new Map<string, Property>();

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2, env: { IMPORT_POLL_INTERVAL: '100ms' } });
    projectId = (await createProject(node(0).url)).project.id;
    owner = await createAgent(node(0).url, projectId, 'owner');
    agent = await createAgent(node(0).url, projectId, 'agent');
    for (const body of [
      { key: 'plan', label: 'Plan', type: 'select', options: ['free', 'pro', 'enterprise'] },
      { key: 'seats', label: 'Seats', type: 'number' },
      { key: 'channels', label: 'Channels', type: 'multiselect', options: ['mail', 'chat', 'phone'] },
      { key: 'renewal', label: 'Renewal', type: 'date' },
      { key: 'company', label: 'Company', type: 'text', visitorWritable: true, visibleToVisitor: true },
    ]) {
      const res = await client(node(0).url).post<Property>(`${base()}/properties`, { token: owner.token, body });
      if (res.status !== 201) throw new Error(`property: ${res.status} ${res.text}`);
      properties.set(body.key, res.body);
    }
  }, 90_000);
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await cluster.stop();
  });

  const node = (i: number): ParleyProcess => cluster.nodes[i] as ParleyProcess;
  const base = () => `/v1/projects/${projectId}`;
  const leads = () => cluster.db.collection<StoredLead>('leads');

  const newLead = async (on: number, body: Record<string, unknown>) => {
    const res = await client(node(on).url).post<Lead>(`${base()}/leads`, { token: agent.token, body });
    expect([res.status, res.text]).toEqual([201, expect.any(String)]);
    return res.body;
  };
  const patch = async (on: number, leadId: string, body: Record<string, unknown>) => {
    const res = await client(node(on).url).patch<Lead>(`${base()}/leads/${leadId}`, { token: agent.token, body });
    expect([res.status, res.text]).toEqual([200, expect.any(String)]);
    return res.body;
  };
  /** The ids of the contacts a filter finds, sorted, through node `on`. */
  const found = async (on: number, filter: unknown) => {
    const res = await client(node(on).url).post<LeadSearchResponse>(`${base()}/leads/search`, {
      token: agent.token,
      body: { filter, limit: 100 },
    });
    expect([res.status, res.text]).toEqual([200, expect.any(String)]);
    return res.body.items.map((l) => l.id).sort();
  };
  const eq = (key: string, value: unknown) => ({ field: `properties.${key}`, op: 'eq', value });
  const sorted = (ids: string[]) => [...ids].sort();
  /** What is stored matches what the attributes derive (the order of entries aside), for every lead of the project. */
  const expectConsistent = async () => {
    const canon = (entries: { k: string; v: unknown }[] | undefined) =>
      (entries ?? []).map((e) => JSON.stringify([e.k, e.v])).sort();
    const docs = await leads().find({ projectId }).toArray();
    for (const doc of docs)
      expect({ id: doc._id, propIndex: canon(doc.propIndex) }).toEqual({
        id: doc._id,
        propIndex: canon(propIndexOf(doc.attributes as never)),
      });
  };

  it('finds the right contacts after profile changes by agents and visitors, on either node', async () => {
    const one = await newLead(0, {
      fullname: 'One',
      attributes: { plan: 'pro', seats: 5, channels: 'mail;chat', renewal: '2027-03-01' },
    });
    const two = await newLead(1, { fullname: 'Two', attributes: { plan: 'free', seats: 7, channels: 'chat' } });
    expect(await found(1, eq('plan', 'pro'))).toEqual([one.id]);
    expect(await found(0, { field: 'properties.seats', op: 'in', value: [5, 7, 9] })).toEqual(sorted([one.id, two.id]));
    expect(await found(1, { field: 'properties.channels', op: 'contains', value: 'chat' })).toEqual(
      sorted([one.id, two.id]),
    );
    expect(await found(0, { field: 'properties.channels', op: 'in', value: ['mail', 'phone'] })).toEqual([one.id]);
    expect(await found(1, eq('renewal', '2027-03-01T00:00:00Z'))).toEqual([one.id]);
    expect(await found(0, { and: [eq('plan', 'pro'), eq('seats', 5)] })).toEqual([one.id]);

    // An agent's change through the other node: the old values no longer find it, the new ones do.
    await patch(1, one.id, { attributes: { plan: 'enterprise', channels: 'phone', seats: null } });
    expect(await found(0, eq('plan', 'pro'))).toEqual([]);
    expect(await found(0, eq('plan', 'enterprise'))).toEqual([one.id]);
    expect(await found(1, { field: 'properties.channels', op: 'contains', value: 'chat' })).toEqual([two.id]);
    expect(await found(1, { field: 'properties.channels', op: 'eq', value: 'phone' })).toEqual([one.id]);
    expect(await found(0, eq('seats', 5))).toEqual([]);
    // A change of another field leaves the property entries as they were.
    await patch(0, one.id, { fullname: 'One Renamed' });
    expect(await found(1, eq('renewal', '2027-03-01'))).toEqual([one.id]);

    // A visitor's own values, on one node, found through the other.
    const auth = await anonymousVisitor(node(0).url, projectId);
    const socket = await connectVisitor(node(0).url, auth.token);
    sockets.push(socket);
    const { lead: mine } = await ok<LeadUpdateResult>(socket, 'lead:update', { attributes: { company: 'Acme' } });
    expect(await found(1, eq('company', 'Acme'))).toEqual([mine.id]);
    await ok<LeadUpdateResult>(socket, 'lead:update', { attributes: { company: 'Beta' } });
    expect(await found(1, eq('company', 'Acme'))).toEqual([]);
    expect(await found(0, eq('company', 'Beta'))).toEqual([mine.id]);
    await expectConsistent();
  });

  it('finds the right contacts after bulk actions, a property type change and a property deletion', async () => {
    const bulk = async (filter: unknown, action: Record<string, unknown>) => {
      const res = await client(node(1).url).post<LeadBulkCompletedEvent>(`${base()}/leads/bulk`, {
        token: owner.token,
        body: { filter, action },
      });
      expect([res.status, res.text]).toEqual([200, expect.any(String)]);
      return res.body;
    };
    const group = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        newLead(i % 2, { fullname: `Bulk ${i}`, tags: ['bulk'], attributes: { plan: 'free', seats: 10 + i } }),
      ),
    );
    const ids = sorted(group.map((l) => l.id));
    const inGroup = { field: 'tags', op: 'eq', value: 'bulk' };

    expect((await bulk(inGroup, { type: 'setProperty', key: 'plan', value: 'pro' })).changed).toBe(4);
    expect(await found(0, { and: [inGroup, eq('plan', 'pro')] })).toEqual(ids);
    expect(await found(0, { and: [inGroup, eq('plan', 'free')] })).toEqual([]);
    await bulk(inGroup, { type: 'setProperty', key: 'channels', value: 'mail;phone' });
    expect(
      await found(1, { and: [inGroup, { field: 'properties.channels', op: 'contains', value: 'phone' }] }),
    ).toEqual(ids);
    await bulk(inGroup, { type: 'setProperty', key: 'channels', value: 'chat' });
    expect(
      await found(1, { and: [inGroup, { field: 'properties.channels', op: 'contains', value: 'phone' }] }),
    ).toEqual([]);
    expect(await found(1, { and: [inGroup, { field: 'properties.channels', op: 'eq', value: 'chat' }] })).toEqual(ids);
    await bulk({ and: [inGroup, eq('seats', 10)] }, { type: 'setProperty', key: 'seats', value: null });
    expect(await found(0, eq('seats', 10))).toEqual([]);
    await expectConsistent();

    // seats: number → text; the values are now text, and found as text.
    const seats = properties.get('seats') as Property;
    const retyped = await client(node(0).url).patch(`${base()}/properties/${seats.id}`, {
      token: owner.token,
      body: { type: 'text' },
    });
    expect([retyped.status, retyped.text]).toEqual([200, expect.any(String)]);
    const third = group.find((l) => l.attributes['seats'] === 12) as Lead;
    expect(await found(1, eq('seats', '12'))).toEqual([third.id]);
    await expectConsistent();
    // …and back to numbers.
    await client(node(1).url).patch(`${base()}/properties/${seats.id}`, {
      token: owner.token,
      body: { type: 'number' },
    });
    expect(await found(0, eq('seats', 12))).toEqual([third.id]);
    await expectConsistent();

    // Deleting a property takes its values and their entries; one defined again with the key starts empty.
    const renewal = properties.get('renewal') as Property;
    const removed = await client(node(1).url).delete(`${base()}/properties/${renewal.id}`, { token: owner.token });
    expect(removed.status).toBe(204);
    expect(await leads().countDocuments({ projectId, 'propIndex.k': 'renewal' })).toBe(0);
    const again = await client(node(0).url).post<Property>(`${base()}/properties`, {
      token: owner.token,
      body: { key: 'renewal', label: 'Renewal', type: 'date' },
    });
    expect(again.status).toBe(201);
    properties.set('renewal', again.body);
    expect(await found(0, eq('renewal', '2027-03-01'))).toEqual([]);
    await expectConsistent();
  });

  it('finds contacts an import created or changed, and the target of a merge by the values it took', async () => {
    const existing = await newLead(0, { email: 'known@example.com', attributes: { plan: 'free' } });
    const csv = 'Email,Plan,Seats\r\nknown@example.com,enterprise,40\r\nfresh@example.com,pro,41\r\n';
    const upload = await client(node(1).url).post<LeadImportResponse>(
      `${base()}/leads/imports?${new URLSearchParams({
        matchKey: 'email',
        mapping: JSON.stringify({ Email: 'email', Plan: 'attributes.plan', Seats: 'attributes.seats' }),
      }).toString()}`,
      { token: owner.token, rawBody: csv, headers: { 'content-type': 'text/csv' } },
    );
    expect([upload.status, upload.text]).toEqual([202, expect.any(String)]);
    await waitFor('the import to finish', async () => {
      const res = await client(node(0).url).get<LeadImportResponse>(
        `${base()}/leads/imports/${upload.body.import.id}`,
        { token: owner.token },
      );
      return res.body.import.status === 'completed' ? res.body.import : undefined;
    });
    const fresh = (await leads().findOne({ projectId, email: 'fresh@example.com' })) as StoredLead;
    expect(await found(0, eq('seats', 40))).toEqual([existing.id]);
    expect(await found(1, { and: [eq('plan', 'enterprise'), eq('seats', 40)] })).toEqual([existing.id]);
    expect(await found(0, eq('seats', 41))).toEqual([fresh._id]);

    // The target has no plan; the source's fills it, and the source itself is no longer listed.
    const target = await newLead(1, { fullname: 'Target', attributes: { company: 'Merged Co' } });
    const source = await newLead(0, { fullname: 'Source', attributes: { plan: 'pro', seats: 77, company: 'Other' } });
    expect(await found(0, eq('seats', 77))).toEqual([source.id]);
    const merged = await client(node(0).url).post(`${base()}/leads/${target.id}/merge`, {
      token: agent.token,
      body: { sourceLeadIds: [source.id] },
    });
    expect([merged.status, merged.text]).toEqual([200, expect.any(String)]);
    expect(await found(1, eq('seats', 77))).toEqual([target.id]);
    expect(await found(1, { and: [eq('seats', 77), eq('company', 'Merged Co')] })).toEqual([target.id]);
    expect(await found(0, eq('company', 'Other'))).toEqual([]);
    await expectConsistent();
  });

  it('finds a contact stored before the property index existed once a node has started again', async () => {
    const legacy: StoredLead & Record<string, unknown> = {
      _id: 'legacy-lead-1',
      projectId,
      userId: 'legacy-user-1',
      kind: 'manual',
      fullname: 'Legacy',
      attributes: { plan: 'pro', seats: 501, channels: ['mail', 'phone'] },
      tags: [],
      searchKeys: ['legacy'],
      conversationCount: 0,
      rev: 3,
      createdAt: new Date(),
      updatedAt: new Date(),
    };
    await leads().insertOne(legacy);
    // One stored before, then given a value by a bulk action: still without the field, for the backfill.
    const older = await newLead(0, { fullname: 'Older', attributes: { seats: 502 } });
    await leads().updateOne({ _id: older.id }, { $unset: { propIndex: '' } });
    const bulk = await client(node(0).url).post<LeadBulkCompletedEvent>(`${base()}/leads/bulk`, {
      token: owner.token,
      body: {
        filter: { field: 'name', op: 'eq', value: 'Older' },
        action: { type: 'setProperty', key: 'plan', value: 'pro' },
      },
    });
    expect(bulk.body.changed).toBe(1);
    expect((await leads().findOne({ _id: older.id }))?.propIndex).toBeUndefined();
    expect(await found(0, eq('seats', 501))).toEqual([]);

    await node(1).stop();
    node(1).cleanup();
    cluster.nodes[1] = await startParley({
      env: { MONGODB_URI: cluster.mongo.uri, REDIS_URL: cluster.redis.url, IMPORT_POLL_INTERVAL: '100ms' },
    });
    await waitFor('the backfill', async () =>
      (await found(1, { field: 'properties.channels', op: 'contains', value: 'phone' })).includes(legacy._id),
    );
    expect(await found(1, { and: [eq('plan', 'pro'), eq('seats', 501)] })).toEqual([legacy._id]);
    expect(await found(0, { and: [eq('plan', 'pro'), eq('seats', 502)] })).toEqual([older.id]);
    // Unchanged otherwise: the backfill writes nothing but the derived field.
    expect(await leads().findOne({ _id: legacy._id })).toMatchObject({ rev: 3, attributes: legacy.attributes });
    await expectConsistent();
  });

  it('answers a property filter through the property index, not by scanning the contacts', async () => {
    const { project } = await createProject(node(0).url);
    const owner2 = await createAgent(node(0).url, project.id, 'owner');
    for (const [key, type] of [
      ['p0', 'number'],
      ['p1', 'text'],
    ] as const) {
      const res = await client(node(0).url).post(`/v1/projects/${project.id}/properties`, {
        token: owner2.token,
        body: { key, label: key, type },
      });
      expect(res.status).toBe(201);
    }
    // Stored as the server stores them (as the bench seeds them): 2,000 contacts.
    const now = new Date();
    await leads().insertMany(
      Array.from({ length: 2000 }, (_, i) => {
        const attributes = { p0: i % 100, p1: `v${i % 7}` };
        return {
          _id: `scan-${i}`,
          projectId: project.id,
          userId: `scan-user-${i}`,
          kind: 'manual',
          attributes,
          propIndex: propIndexOf(attributes),
          tags: [],
          searchKeys: [],
          conversationCount: 0,
          rev: 0,
          createdAt: now,
          updatedAt: now,
        };
      }),
    );
    const filter = { and: [eq('p0', 42), eq('p1', 'v3')] };
    const expected = Array.from({ length: 2000 }, (_, i) => i).filter((i) => i % 100 === 42 && i % 7 === 3);
    const res = await client(node(1).url).post<LeadSearchResponse>(`/v1/projects/${project.id}/leads/search`, {
      token: owner2.token,
      body: { filter, limit: 100 },
    });
    expect(res.body.items.map((l) => l.id).sort()).toEqual(expected.map((i) => `scan-${i}`).sort());

    // The very query the server runs for this filter (LeadFilterSearch.query), explained by the database.
    const defs = await cluster.db.collection<PropertyDoc>('properties').find({ projectId: project.id }).toArray();
    const catalog = { byKey: new Map(defs.map((d) => [d.key, d])), definedKeysOnly: false };
    const query = await new LeadFilterSearch(undefined as never, undefined as never).query(
      project.id,
      { filter: filter as never },
      catalog,
    );
    const explained = await leads()
      .find(query as never)
      .explain('executionStats');
    const text = JSON.stringify(explained);
    expect(text).toContain(`"indexName":"${INDEX}"`);
    expect(text).not.toContain('"COLLSCAN"');
    // One entry's leads (20 with p0 = 42, which embedded-mongo picks as the narrower; 286 with
    // p1 = v3), never the project's 2,000.
    expect(explained['executionStats']).toMatchObject({ nReturned: expected.length });
    expect(explained['executionStats'].totalDocsExamined).toBeLessThanOrEqual(286);
  });
});
