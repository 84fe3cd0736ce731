import type { Lead, LeadUpdateResult, Property, PropertyListResponse } from '@parley/protocol';
import { startDatabase, type TestDatabase } from './support/database';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';
import { command, connectVisitor, ok } from './support/sockets';

/**
 * Typed contact properties on two nodes sharing one database: definitions made through one node
 * hold on the other at once (they are read per write, never cached per node), values are stored
 * typed (a date is a BSON date), type changes that would lose values are refused, deletions take
 * the values away, and visitors write and see only what the definitions allow.
 */
describe('contact properties', () => {
  let database: TestDatabase;
  let nodeA: ParleyProcess;
  let nodeB: ParleyProcess;
  let projectId: string;
  let owner: TestAgent;
  let agent: TestAgent;
  const sockets: { close(): void }[] = [];

  beforeAll(async () => {
    database = await startDatabase();
    [nodeA, nodeB] = await Promise.all([
      startParley({ env: { MONGODB_URI: database.uri } }),
      startParley({ env: { MONGODB_URI: database.uri } }),
    ]);
    projectId = (await createProject(nodeA.url)).project.id;
    owner = await createAgent(nodeA.url, projectId, 'owner');
    agent = await createAgent(nodeA.url, projectId, 'agent');
  }, 60_000);
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await Promise.all([nodeA.stop(), nodeB.stop()]);
    nodeA.cleanup();
    nodeB.cleanup();
    await database.stop();
  });

  const a = () => client(nodeA.url);
  const b = () => client(nodeB.url);
  const base = () => `/v1/projects/${projectId}`;
  const define = async (body: Record<string, unknown>) => {
    const res = await a().post<Property>(`${base()}/properties`, { token: owner.token, body });
    expect([res.status, res.text]).toEqual([201, expect.any(String)]);
    return res.body;
  };
  const newLead = async (body: Record<string, unknown> = {}) => {
    const res = await a().post<Lead>(`${base()}/leads`, { token: agent.token, body });
    expect([res.status, res.text]).toEqual([201, expect.any(String)]);
    return res.body;
  };
  const stored = (leadId: string) => database.db.collection<{ _id: string }>('leads').findOne({ _id: leadId });

  it('types values on every node as soon as a property is defined, and refuses wrong types naming the field', async () => {
    const lead = await newLead({ attributes: { renewal: 'soon' } });
    // Defining "renewal" as a date is refused: a lead holds a value that is not one.
    const refused = await a().post(`${base()}/properties`, {
      token: owner.token,
      body: { key: 'renewal', label: 'Renewal', type: 'date' },
    });
    expect(refused.status).toBe(409);
    expect(refused.text).toContain(lead.id);
    await a().patch(`${base()}/leads/${lead.id}`, { token: agent.token, body: { attributes: { renewal: null } } });

    await define({ key: 'renewal', label: 'Renewal', type: 'date' });
    await define({ key: 'seats', label: 'Seats', type: 'number' });
    await define({ key: 'plan', label: 'Plan', type: 'select', options: ['free', 'pro'] });
    await define({ key: 'channels', label: 'Channels', type: 'multiselect', options: ['chat', 'mail', 'phone'] });

    // Through node B, right after the definitions were made through node A.
    const good = await b().patch<Lead>(`${base()}/leads/${lead.id}`, {
      token: agent.token,
      body: { attributes: { renewal: '2027-01-15', seats: '12', plan: 'pro', channels: 'mail;chat;mail' } },
    });
    expect([good.status, good.text]).toEqual([200, expect.any(String)]);
    expect(good.body.attributes).toEqual({
      renewal: '2027-01-15T00:00:00.000Z',
      seats: 12,
      plan: 'pro',
      channels: 'mail;chat',
    });
    const doc = (await stored(lead.id)) as unknown as { attributes: Record<string, unknown> };
    expect(doc.attributes['renewal']).toBeInstanceOf(Date);
    expect(doc.attributes['seats']).toBe(12);
    expect(doc.attributes['channels']).toEqual(['mail', 'chat']);

    const bad = await b().patch<{ error: { code: string; details: { fields: { field: string }[] } } }>(
      `${base()}/leads/${lead.id}`,
      { token: agent.token, body: { attributes: { renewal: 'next week', plan: 'gold', channels: 'fax' } } },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BAD_REQUEST');
    expect(bad.body.error.details.fields.map((f) => f.field).sort()).toEqual([
      'attributes.channels',
      'attributes.plan',
      'attributes.renewal',
    ]);
    // Nothing of the refused write was stored.
    expect((await a().get<Lead>(`${base()}/leads/${lead.id}`, { token: agent.token })).text).toContain('"plan":"pro"');
  });

  it('keeps undefined keys unless the project takes defined keys only', async () => {
    const lead = await newLead();
    const free = await a().patch<Lead>(`${base()}/leads/${lead.id}`, {
      token: agent.token,
      body: { attributes: { anything: 'goes' } },
    });
    expect(free.body.attributes).toMatchObject({ anything: 'goes' });
    const set = await a().put(`${base()}/property-settings`, { token: owner.token, body: { definedKeysOnly: true } });
    expect(set.status).toBe(200);
    const strict = await b().patch(`${base()}/leads/${lead.id}`, {
      token: agent.token,
      body: { attributes: { other: 'thing' } },
    });
    expect([strict.status, strict.text]).toEqual([400, expect.stringContaining('attributes.other')]);
    const list = await b().get<PropertyListResponse>(`${base()}/properties`, { token: agent.token });
    expect(list.body.definedKeysOnly).toBe(true);
    await a().put(`${base()}/property-settings`, { token: owner.token, body: { definedKeysOnly: false } });
  });

  it('refuses a type change while values do not convert, and retypes them when they do', async () => {
    const code = await define({ key: 'code', label: 'Code', type: 'text' });
    const one = await newLead({ attributes: { code: '42' } });
    const two = await newLead({ attributes: { code: 'abc' } });
    const refused = await a().patch(`${base()}/properties/${code.id}`, {
      token: owner.token,
      body: { type: 'number' },
    });
    expect(refused.status).toBe(409);
    expect(refused.text).toContain(two.id);
    expect(refused.text).not.toContain(one.id);
    expect((await a().get<Property>(`${base()}/properties/${code.id}`, { token: agent.token })).body.type).toBe('text');

    await a().patch(`${base()}/leads/${two.id}`, { token: agent.token, body: { attributes: { code: '7' } } });
    const changed = await b().patch<Property>(`${base()}/properties/${code.id}`, {
      token: owner.token,
      body: { type: 'number' },
    });
    expect([changed.status, changed.body.type]).toEqual([200, 'number']);
    const docs = await database.db
      .collection<{ _id: string; attributes: Record<string, unknown> }>('leads')
      .find({ _id: { $in: [one.id, two.id] } })
      .toArray();
    expect(docs.map((d) => d.attributes['code']).sort()).toEqual([42, 7]);
  });

  it('deletes a property with its values and their origins', async () => {
    const prop = await define({ key: 'gone', label: 'Gone', type: 'boolean' });
    const lead = await newLead({ attributes: { gone: 'true', kept: 'yes' } });
    expect(lead.attributes).toMatchObject({ gone: true });
    const removed = await b().delete(`${base()}/properties/${prop.id}`, { token: owner.token });
    expect(removed.status).toBe(204);
    const after = await a().get<{ lead: Lead }>(`${base()}/leads/${lead.id}`, { token: agent.token });
    expect(after.body.lead.attributes).toEqual({ kept: 'yes' });
    expect(Object.keys(after.body.lead.origins ?? {})).not.toContain('attributes.gone');
    expect((await a().get(`${base()}/properties/${prop.id}`, { token: agent.token })).status).toBe(404);
  });

  it('lets visitors write only visitorWritable properties and see only visibleToVisitor ones', async () => {
    await define({ key: 'company', label: 'Company', type: 'text', visitorWritable: true, visibleToVisitor: true });
    await define({ key: 'budget', label: 'Budget', type: 'number', visitorWritable: true, visibleToVisitor: false });
    await define({ key: 'score', label: 'Score', type: 'number' });
    const auth = await anonymousVisitor(nodeB.url, projectId);
    const socket = await connectVisitor(nodeB.url, auth.token);
    sockets.push(socket);

    const refused = await command(socket, 'lead:update', { attributes: { score: 99 } });
    expect(refused).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const wrongType = await command(socket, 'lead:update', { attributes: { budget: 'lots' } });
    expect(wrongType).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });

    const { lead: view } = await ok<LeadUpdateResult>(socket, 'lead:update', {
      attributes: { company: 'Acme', budget: '5000', free: 'text' },
    });
    // The budget is stored (agents see it) but not shown back to the visitor.
    expect(view.attributes).toEqual({ company: 'Acme', free: 'text' });
    const doc = (await database.db
      .collection<{ _id: string; attributes: Record<string, unknown> }>('leads')
      .findOne({ _id: view.id }))!;
    expect(doc.attributes).toMatchObject({ company: 'Acme', budget: 5000 });
    expect(doc.attributes['score']).toBeUndefined();
  });
});
