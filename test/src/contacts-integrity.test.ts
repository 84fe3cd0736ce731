import type {
  AgentLoginResponse,
  Conversation,
  ConversationStartResult,
  ErrorResponse,
  Lead,
  LeadDetailResponse,
  LeadMergedResponse,
  Page,
} from '@parley/protocol';
import { startDatabase, type TestDatabase } from './support/database';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { waitFor } from './support/wait';
import { startParley, TEST_ADMIN_TOKEN, type ParleyProcess } from './support/parley-process';
import {
  connectAgent,
  connectVisitor,
  EventLog,
  ok,
  refusedHandshake,
  type AgentClientSocket,
} from './support/sockets';

/**
 * Agents' changes to contacts that touch many documents (merges, erasures) must stay consistent
 * when they race each other, and removing an agent must shut it out everywhere.
 */
describe('contacts stay consistent', () => {
  let database: TestDatabase;
  let server: ParleyProcess;
  let projectId: string;
  let agent: TestAgent;
  let agentSocket: AgentClientSocket;
  let events: EventLog;
  const api = () => client(server.url);

  beforeAll(async () => {
    database = await startDatabase();
    server = await startParley({
      env: { MONGODB_URI: database.uri, RATE_LIMIT_LOGIN_PER_MINUTE: '3', TRUST_PROXY: 'true' },
    });
    projectId = (await createProject(server.url)).project.id;
    agent = await createAgent(server.url, projectId, 'owner');
    agentSocket = await connectAgent(server.url, agent.token);
    events = new EventLog(agentSocket);
  });
  afterAll(async () => {
    agentSocket.close();
    await server.stop();
    server.cleanup();
    await database.stop();
  });

  /** A visitor with one conversation, so that its lead exists. */
  async function contact(fullname: string, attributes: Record<string, string> = {}) {
    const auth = await anonymousVisitor(server.url, projectId);
    const socket = await connectVisitor(server.url, auth.token);
    await ok(socket, 'lead:update', { fullname, ...(Object.keys(attributes).length ? { attributes } : {}) });
    const { conversation } = await ok<ConversationStartResult>(socket, 'conversation:start', {
      text: `hi from ${fullname}`,
    });
    const lead = await database.db.collection('leads').findOne({ projectId, userId: auth.user.id });
    return { auth, socket, conversationId: conversation.id, leadId: String(lead?.['_id']) };
  }

  const merge = (targetId: string, sourceLeadIds: string[]) =>
    api().post<LeadMergedResponse | ErrorResponse>(`/v1/projects/${projectId}/leads/${targetId}/merge`, {
      token: agent.token,
      body: { sourceLeadIds },
    });

  it('lets only one of two opposite merges happen, so neither contact disappears', async () => {
    const f = await contact('Fiona');
    const g = await contact('Gustav');
    try {
      const results = await Promise.all([merge(f.leadId, [g.leadId]), merge(g.leadId, [f.leadId])]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
      const listed = await api().get<Page<Lead>>(`/v1/projects/${projectId}/leads?q=fiona`, { token: agent.token });
      const listedG = await api().get<Page<Lead>>(`/v1/projects/${projectId}/leads?q=gustav`, { token: agent.token });
      // One of them survives, holding both conversations.
      const survivor = [...listed.body.items, ...listedG.body.items];
      expect(survivor).toHaveLength(1);
      expect(survivor[0]?.conversationCount).toBe(2);
      expect(survivor[0]?.mergedInto).toBeUndefined();
    } finally {
      f.socket.close();
      g.socket.close();
    }
  });

  it('keeps merge chains one hop long, and moves conversations to the final contact live', async () => {
    const a = await contact('Anna');
    const b = await contact('Bruno');
    const c = await contact('Carla');
    try {
      expect((await merge(b.leadId, [a.leadId])).status).toBe(200);
      // The first merge's pushes may still be on their way (through Redis when REDIS_URL is set).
      await events.wait<{ mergedLeadIds: string[] }>('lead.merged', (e) => e.mergedLeadIds.includes(a.leadId));
      await events.wait<{ conversation: Conversation }>(
        'conversation.updated',
        (e) => e.conversation.id === a.conversationId && e.conversation.leadId === b.leadId,
      );
      events.clear();
      expect((await merge(c.leadId, [b.leadId])).status).toBe(200);
      const leadA = await database.db.collection('leads').findOne({ _id: a.leadId as never });
      expect(leadA?.['mergedInto']).toBe(c.leadId);
      // Both earlier conversations now belong to Carla, and consoles were told.
      await events.waitCount('conversation.updated', 2);
      const moved = events.of<{ conversation: Conversation }>('conversation.updated').map((e) => e.conversation);
      expect(moved.map((m) => m.id).sort()).toEqual([a.conversationId, b.conversationId].sort());
      expect(new Set(moved.map((m) => m.leadId))).toEqual(new Set([c.leadId]));
      // Anna's next conversation lands on Carla.
      const next = await ok<ConversationStartResult>(a.socket, 'conversation:start', {});
      expect(next.conversation.leadId).toBe(c.leadId);
      const detail = await api().get<LeadDetailResponse>(`/v1/projects/${projectId}/leads/${c.leadId}`, {
        token: agent.token,
      });
      expect(detail.body.conversations).toHaveLength(4);
      // Anna coming back is seen on Carla's lead, not on her merged-away one.
      const seenAt = async (id: string) =>
        (await database.db.collection('leads').findOne({ _id: id as never }))?.['lastSeenAt'] as Date | undefined;
      const before = (await seenAt(c.leadId))?.getTime() ?? 0;
      const again = await connectVisitor(server.url, a.auth.token);
      await waitFor(
        'lastSeenAt to move on the final contact',
        async () => ((await seenAt(c.leadId))?.getTime() ?? 0) > before,
      );
      expect((await seenAt(c.leadId))?.getTime()).toBeGreaterThan(before);
      again.close();
    } finally {
      a.socket.close();
      b.socket.close();
      c.socket.close();
    }
  });

  it('refuses a merge whose contact would have too many attributes, before moving anything', async () => {
    const many = (prefix: string) => Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`${prefix}${i}`, 'v']));
    const t = await contact('Target', many('t'));
    const s = await contact('Source', many('s'));
    try {
      const refused = await merge(t.leadId, [s.leadId]);
      expect(refused.status).toBe(400);
      expect((refused.body as ErrorResponse).error.details?.fields?.[0]?.field).toBe('attributes');
      const conversation = await database.db.collection('conversations').findOne({ _id: s.conversationId as never });
      expect(conversation?.['leadId']).toBe(s.leadId);
      const source = await database.db.collection('leads').findOne({ _id: s.leadId as never });
      expect(source?.['mergedInto']).toBeUndefined();
    } finally {
      t.socket.close();
      s.socket.close();
    }
  });

  it('recounts the contact an erased, merged-away visitor had been merged into', async () => {
    const keep = await contact('Keeper');
    const gone = await contact('Gone');
    try {
      expect((await merge(keep.leadId, [gone.leadId])).status).toBe(200);
      await events.wait<{ mergedLeadIds: string[] }>('lead.merged', (e) => e.mergedLeadIds.includes(gone.leadId));
      events.clear();
      const erased = await api().delete(`/v1/projects/${projectId}/leads/${gone.leadId}`, { token: agent.token });
      expect(erased.status).toBe(204);
      const updated = await events.wait<{ lead: Lead; changes: string[] }>(
        'lead.updated',
        (e) => e.lead.id === keep.leadId,
      );
      expect(updated.changes).toEqual(['conversationCount']);
      expect(updated.lead.conversationCount).toBe(1);
      const detail = await api().get<LeadDetailResponse>(`/v1/projects/${projectId}/leads/${keep.leadId}`, {
        token: agent.token,
      });
      expect(detail.body.lead.conversationCount).toBe(1);
      expect(detail.body.conversations.map((c) => c.id)).toEqual([keep.conversationId]);
      expect(await database.db.collection('messages').countDocuments({ conversationId: gone.conversationId })).toBe(0);
    } finally {
      keep.socket.close();
      gone.socket.close();
    }
  });

  it('refuses pages on the CSV export, which always streams every match', async () => {
    const res = await api().get<ErrorResponse>(`/v1/projects/${projectId}/leads/export.csv?limit=5`, {
      token: agent.token,
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BAD_REQUEST');
  });

  it('shuts a removed agent out of REST and sockets at once', async () => {
    const doomed = await createAgent(server.url, projectId);
    const socket = await connectAgent(server.url, doomed.token);
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    const listed = await api().get<{ items: { id: string }[] }>(`/v1/admin/projects/${projectId}/agents`, {
      token: TEST_ADMIN_TOKEN,
    });
    expect(listed.body.items.map((a) => a.id)).toContain(doomed.id);
    const removed = await api().delete(`/v1/admin/projects/${projectId}/agents/${doomed.id}`, {
      token: TEST_ADMIN_TOKEN,
    });
    expect(removed.status).toBe(204);
    expect(await disconnected).toBe('io server disconnect');
    const rest = await api().get<ErrorResponse>(`/v1/projects/${projectId}/leads`, { token: doomed.token });
    expect(rest.status).toBe(401);
    expect((await refusedHandshake(server.url, '/agent', doomed.token)).message).toBe('UNAUTHORIZED');
    const again = await api().delete(`/v1/admin/projects/${projectId}/agents/${doomed.id}`, {
      token: TEST_ADMIN_TOKEN,
    });
    expect(again.status).toBe(404);
  });

  describe('login limits', () => {
    const login = (email: string, password: string, address: string) =>
      api().post<AgentLoginResponse | ErrorResponse>('/v1/agents/login', {
        body: { email, password },
        headers: { 'x-forwarded-for': address },
      });

    it('spends the allowance on failures only', async () => {
      const someone = await createAgent(server.url, projectId);
      for (let i = 0; i < 5; i++) expect((await login(someone.email, someone.password, '10.0.0.1')).status).toBe(200);
      const failures = [];
      for (let i = 0; i < 4; i++) failures.push((await login(someone.email, 'wrong password!', '10.0.0.1')).status);
      expect(failures).toEqual([401, 401, 401, 429]);
    });

    it('limits one address trying many emails', async () => {
      const byAddress = [];
      for (let i = 0; i < 4; i++)
        byAddress.push((await login(`nobody${i}@example.com`, 'guess guess', '10.2.0.1')).status);
      expect(byAddress).toEqual([401, 401, 401, 429]);
    });

    it('never locks the owner of an email out: failures from elsewhere only slow logins down', async () => {
      const victim = await createAgent(server.url, projectId);
      // Ten wrong passwords for the victim from one address: refused there after the allowance.
      const attacker = [];
      for (let i = 0; i < 10; i++) attacker.push((await login(victim.email, `guess ${i}`, '10.3.0.1')).status);
      expect(attacker.slice(0, 3)).toEqual([401, 401, 401]);
      expect(attacker.slice(3)).toEqual(Array(7).fill(429));
      // More from many addresses: never refused for the email alone, only held back.
      for (let i = 0; i < 3; i++) expect((await login(victim.email, 'guess again', `10.4.0.${i}`)).status).toBe(401);
      // The victim, from another address, with the right password.
      const mine = await login(victim.email, victim.password, '10.5.0.1');
      expect(mine.status).toBe(200);
    });
  });
});
