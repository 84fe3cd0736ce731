import type { Lead, LeadSearchResponse, Property, Segment } from '@parley/protocol';
import { createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';

/**
 * Segments: saved filters, checked when saved, run with the search's paging when listed; a
 * property a segment filters on cannot be deleted until the segment stops naming it.
 */
describe('contact segments', () => {
  let server: ParleyProcess;
  let projectId: string;
  let owner: TestAgent;
  let agent: TestAgent;
  let plan: Property;

  beforeAll(async () => {
    server = await startParley();
    projectId = (await createProject(server.url)).project.id;
    owner = await createAgent(server.url, projectId, 'owner');
    agent = await createAgent(server.url, projectId, 'agent');
    const res = await api().post<Property>(`${base()}/properties`, {
      token: owner.token,
      body: { key: 'plan', label: 'Plan', type: 'select', options: ['free', 'pro'] },
    });
    plan = res.body;
    for (let i = 0; i < 9; i++) {
      const lead = await api().post<Lead>(`${base()}/leads`, {
        token: agent.token,
        body: { fullname: `S ${i}`, email: `s${i}@acme.test`, attributes: { plan: i % 3 === 0 ? 'free' : 'pro' } },
      });
      if (lead.status !== 201) throw new Error(lead.text);
    }
  }, 60_000);
  afterAll(async () => {
    await server.stop();
    server.cleanup();
  });

  const api = () => client(server.url);
  const base = () => `/v1/projects/${projectId}`;

  it('saves a checked filter and lists its leads page by page', async () => {
    const refused = await api().post<{ error: { details: { fields: { field: string }[] } } }>(`${base()}/segments`, {
      token: agent.token,
      body: { name: 'Broken', filter: { and: [{ field: 'properties.plan', op: 'gt', value: 'pro' }] } },
    });
    expect([refused.status, refused.body.error.details.fields[0]?.field]).toEqual([400, 'filter.and[0]']);

    const created = await api().post<Segment>(`${base()}/segments`, {
      token: agent.token,
      body: { name: 'Pro at acme', filter: { field: 'properties.plan', op: 'eq', value: 'pro' }, q: 'acme.test' },
    });
    expect(created.status).toBe(201);
    const names: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await api().get<LeadSearchResponse>(
        `${base()}/segments/${created.body.id}/leads?sort=name&order=asc&limit=4${cursor ? `&cursor=${cursor}` : ''}`,
        { token: agent.token },
      );
      expect([page.status, page.body.total]).toEqual([200, 6]);
      names.push(...page.body.items.map((l) => l.fullname ?? ''));
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    expect(names).toEqual(['S 1', 'S 2', 'S 4', 'S 5', 'S 7', 'S 8']);
    const listed = await api().get<{ items: Segment[] }>(`${base()}/segments`, { token: agent.token });
    expect(listed.body.items.map((s) => s.name)).toEqual(['Pro at acme']);
  });

  it('refuses deleting a property a segment filters on, until the segment stops naming it', async () => {
    const segment = await api().post<Segment>(`${base()}/segments`, {
      token: agent.token,
      body: { name: 'Free', filter: { or: [{ field: 'properties.plan', op: 'eq', value: 'free' }] } },
    });
    const refused = await api().delete(`${base()}/properties/${plan.id}`, { token: owner.token });
    expect(refused.status).toBe(409);
    expect(refused.text).toContain(segment.body.id);
    // Both segments stop naming it: one changes its filter, the other goes.
    const all = await api().get<{ items: Segment[] }>(`${base()}/segments`, { token: agent.token });
    for (const s of all.body.items) {
      if (s.id === segment.body.id) {
        const changed = await api().patch(`${base()}/segments/${s.id}`, {
          token: agent.token,
          body: { filter: { field: 'emailDomain', op: 'eq', value: 'acme.test' } },
        });
        expect(changed.status).toBe(200);
      } else {
        expect((await api().delete(`${base()}/segments/${s.id}`, { token: agent.token })).status).toBe(204);
      }
    }
    expect((await api().delete(`${base()}/properties/${plan.id}`, { token: owner.token })).status).toBe(204);
    const page = await api().get<LeadSearchResponse>(`${base()}/segments/${segment.body.id}/leads`, {
      token: agent.token,
    });
    expect(page.body.total).toBe(9);
    expect(page.body.items.every((l) => l.attributes['plan'] === undefined)).toBe(true);
  });
});
