import type {
  AgentPresenceEvent,
  AgentRoutingListResponse,
  AgentRoutingResponse,
  BusinessHoursResponse,
  Conversation,
  ConversationResult,
  ConversationStartResult,
  ConversationUpdatedEvent,
  ErrorResponse,
  Page,
  RoutingSettingsResponse,
  TeamListResponse,
  TeamResponse,
  WidgetConfig,
} from '@parley/protocol';
import { startDatabase, type TestDatabase } from './support/database';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';
import { metricValue } from './support/metric-value';
import { command, connectAgent, connectVisitor, EventLog, ok, type AgentClientSocket } from './support/sockets';
import { waitFor } from './support/wait';

/**
 * Teams, routing settings, capacities, transfers, business hours and the widget's availability on
 * one node (presence in memory: no REDIS_URL), with the bad inputs each must refuse without
 * changing anything.
 */
describe('conversation workflow: routing on one node', () => {
  let database: TestDatabase;
  let server: ParleyProcess;
  const sockets: { close(): void }[] = [];

  beforeAll(async () => {
    database = await startDatabase();
    server = await startParley({
      env: { MONGODB_URI: database.uri, PRESENCE_GRACE: '300ms', ROUTING_SWEEP_INTERVAL: '300ms' },
      timeoutMs: 60_000,
    });
  }, 90_000);
  afterEach(() => sockets.splice(0).forEach((s) => s.close()));
  afterAll(async () => {
    await server?.stop();
    server?.cleanup();
    await database?.stop();
  });

  const api = () => client(server.url);

  /**
   * Waits until routing has swept every project twice more: the second sweep started after
   * everything before this call, so whatever routing would do about it, it has done. For the
   * decisions that must not happen, which have no event to wait for.
   */
  async function twoSweeps(): Promise<void> {
    const sweeps = async () => (await metricValue(server.url, 'parley_routing_sweeps_total', { outcome: 'ok' })) ?? 0;
    const before = await sweeps();
    let now = before;
    await waitFor('two more routing sweeps', async () => (now = await sweeps()) >= before + 2, {
      describe: () => `${now - before} sweeps`,
    });
  }

  interface Setup {
    projectId: string;
    owner: TestAgent;
    agents: TestAgent[];
  }

  async function setup(agentCount: number, routing?: Record<string, unknown>): Promise<Setup> {
    const projectId = (await createProject(server.url)).project.id;
    const owner = await createAgent(server.url, projectId, 'owner');
    const agents = await Promise.all(Array.from({ length: agentCount }, () => createAgent(server.url, projectId)));
    if (routing) {
      const res = await api().patch(`/v1/projects/${projectId}/routing`, { token: owner.token, body: routing });
      expect(res.status).toBe(200);
    }
    return { projectId, owner, agents };
  }

  async function online(agent: TestAgent): Promise<AgentClientSocket> {
    const socket = await connectAgent(server.url, agent.token);
    sockets.push(socket);
    return socket;
  }

  /** The owner's console, away so that routing leaves it out; records every push. */
  async function watch(s: Setup): Promise<{ socket: AgentClientSocket; log: EventLog }> {
    const socket = await online(s.owner);
    const log = new EventLog(socket);
    await ok(socket, 'agent:status', { status: 'away' });
    return { socket, log };
  }

  async function start(projectId: string, text = 'hello'): Promise<Conversation> {
    const { token } = await anonymousVisitor(server.url, projectId);
    const visitor = await connectVisitor(server.url, token);
    sockets.push(visitor);
    return (await ok<ConversationStartResult>(visitor, 'conversation:start', { text })).conversation;
  }

  async function stored(conversationId: string): Promise<Record<string, unknown>> {
    const doc = await database.db.collection('conversations').findOne({ _id: conversationId as never });
    if (!doc) throw new Error(`no conversation ${conversationId}`);
    return doc;
  }

  const updated = (log: EventLog, conversationId: string, reason: string) =>
    log.wait<ConversationUpdatedEvent>(
      'conversation.updated',
      (e) => e.conversation.id === conversationId && e.change?.reason === reason,
    );

  describe('teams', () => {
    it('are created, read, renamed and deleted; names are unique in a project, ignoring case', async () => {
      const s = await setup(2);
      const [a1, a2] = s.agents as [TestAgent, TestAgent];
      const base = `/v1/projects/${s.projectId}/teams`;
      const created = await api().post<TeamResponse>(base, {
        token: s.owner.token,
        body: { name: 'Billing', memberIds: [a1.id] },
      });
      expect(created.status).toBe(201);
      expect(created.body.team).toMatchObject({ name: 'Billing', memberIds: [a1.id], projectId: s.projectId });
      const teamId = created.body.team.id;

      const taken = await api().post<ErrorResponse>(base, { token: s.owner.token, body: { name: ' billing ' } });
      expect(taken.status).toBe(409);
      expect(taken.body.error.code).toBe('CONFLICT');

      const list = await api().get<TeamListResponse>(base, { token: a2.token });
      expect(list.body.items.map((t) => t.id)).toEqual([teamId]);

      const changed = await api().patch<TeamResponse>(`${base}/${teamId}`, {
        token: s.owner.token,
        body: { name: 'Billing & refunds', memberIds: [a2.id, a1.id] },
      });
      expect(changed.body.team).toMatchObject({ name: 'Billing & refunds', memberIds: [a2.id, a1.id] });
      expect((await api().get<TeamResponse>(`${base}/${teamId}`, { token: a1.token })).body.team).toEqual(
        changed.body.team,
      );

      expect((await api().delete(`${base}/${teamId}`, { token: s.owner.token })).status).toBe(204);
      expect((await api().get(`${base}/${teamId}`, { token: a1.token })).status).toBe(404);
      expect((await api().delete(`${base}/${teamId}`, { token: s.owner.token })).status).toBe(404);
    });

    it("refuse members who are not the project's agents, and unknown teams, changing nothing", async () => {
      const s = await setup(1);
      const other = await setup(1);
      const stranger = other.agents[0] as TestAgent;
      const base = `/v1/projects/${s.projectId}/teams`;
      const refused = await api().post<ErrorResponse>(base, {
        token: s.owner.token,
        body: { name: 'Support', memberIds: [stranger.id] },
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error.details?.fields?.[0]?.field).toBe('memberIds');
      expect((await api().get<TeamListResponse>(base, { token: s.owner.token })).body.items).toEqual([]);

      const team = (await api().post<TeamResponse>(base, { token: s.owner.token, body: { name: 'Support' } })).body
        .team;
      const patch = await api().patch<ErrorResponse>(`${base}/${team.id}`, {
        token: s.owner.token,
        body: { memberIds: [stranger.id] },
      });
      expect(patch.status).toBe(400);
      expect((await api().get<TeamResponse>(`${base}/${team.id}`, { token: s.owner.token })).body.team).toEqual(team);
      // Another project's team is not found here.
      const theirs = (
        await api().post<TeamResponse>(`/v1/projects/${other.projectId}/teams`, {
          token: other.owner.token,
          body: { name: 'Theirs' },
        })
      ).body.team;
      expect((await api().get(`${base}/${theirs.id}`, { token: s.owner.token })).status).toBe(404);
      expect((await api().patch(`${base}/${theirs.id}`, { token: s.owner.token, body: { name: 'Mine' } })).status).toBe(
        404,
      );
    });
  });

  describe('settings and capacities', () => {
    it('start manual with a default capacity, and refuse capacities below 0 changing nothing', async () => {
      const s = await setup(1);
      const [agent] = s.agents as [TestAgent];
      const routing = `/v1/projects/${s.projectId}/routing`;
      const defaults = await api().get<RoutingSettingsResponse>(routing, { token: agent.token });
      expect(defaults.body.routing).toEqual({ mode: 'manual', defaultCapacity: 5, requeueOffline: true });

      for (const body of [{ defaultCapacity: -1 }, { defaultCapacity: 2.5 }, { mode: 'fastest' }, {}]) {
        const res = await api().patch<ErrorResponse>(routing, { token: s.owner.token, body });
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('BAD_REQUEST');
      }
      expect((await api().get<RoutingSettingsResponse>(routing, { token: agent.token })).body.routing).toEqual(
        defaults.body.routing,
      );

      const capacity = `${routing}/agents/${agent.id}`;
      const negative = await api().patch<ErrorResponse>(capacity, { token: s.owner.token, body: { capacity: -1 } });
      expect(negative.status).toBe(400);
      const other = await setup(1);
      const stranger = other.agents[0] as TestAgent;
      const foreign = await api().patch<ErrorResponse>(`${routing}/agents/${stranger.id}`, {
        token: s.owner.token,
        body: { capacity: 3 },
      });
      expect(foreign.status).toBe(404);
      expect(await database.db.collection('agent_routing').findOne({ _id: stranger.id as never })).toBeNull();
      const view = await api().get<AgentRoutingListResponse>(`${routing}/agents`, { token: agent.token });
      expect(view.body.items.find((a) => a.agentId === agent.id)).toEqual({
        agentId: agent.id,
        capacity: null,
        effectiveCapacity: 5,
        activeConversations: 0,
        status: 'offline',
      });

      const set = await api().patch<AgentRoutingResponse>(capacity, { token: s.owner.token, body: { capacity: 7 } });
      expect(set.body.agent).toMatchObject({ capacity: 7, effectiveCapacity: 7 });
      const reset = await api().patch<AgentRoutingResponse>(capacity, {
        token: s.owner.token,
        body: { capacity: null },
      });
      expect(reset.body.agent).toMatchObject({ capacity: null, effectiveCapacity: 5 });
    });

    it('assign waiting conversations the moment capacity is raised, and never to an agent of capacity 0', async () => {
      const s = await setup(1, { mode: 'auto', defaultCapacity: 1 });
      const [agent] = s.agents as [TestAgent];
      const { log } = await watch(s);
      await online(agent);
      await log.wait<AgentPresenceEvent>('agent.presence', (e) => e.agentId === agent.id && e.status === 'online');
      const c1 = await start(s.projectId);
      expect((await updated(log, c1.id, 'auto')).conversation.assigneeId).toBe(agent.id);
      const c2 = await start(s.projectId);
      const queue = await api().get<Page<Conversation>>(`/v1/projects/${s.projectId}/queue`, { token: agent.token });
      expect(queue.body.items.map((c) => c.id)).toEqual([c2.id]);
      // `none`: the conversations of no team, as in the conversation list.
      const noTeam = await api().get<Page<Conversation>>(`/v1/projects/${s.projectId}/queue?teamId=none`, {
        token: agent.token,
      });
      expect(noTeam.body.items.map((c) => c.id)).toEqual([c2.id]);

      await api().patch(`/v1/projects/${s.projectId}/routing/agents/${agent.id}`, {
        token: s.owner.token,
        body: { capacity: 2 },
      });
      expect((await updated(log, c2.id, 'auto')).conversation.assigneeId).toBe(agent.id);

      // Capacity 0: this agent is never chosen, whatever it holds.
      await api().patch(`/v1/projects/${s.projectId}/routing/agents/${agent.id}`, {
        token: s.owner.token,
        body: { capacity: 0 },
      });
      const c3 = await start(s.projectId);
      // Nothing happening has no event to wait for: routing reacts to the start at once, and two
      // sweeps after it have looked at c3 again. Raised again, the capacity shows c3 was waiting
      // for it alone.
      await twoSweeps();
      expect((await stored(c3.id))['assigneeId']).toBeUndefined();
      await api().patch(`/v1/projects/${s.projectId}/routing/agents/${agent.id}`, {
        token: s.owner.token,
        body: { capacity: 3 },
      });
      expect((await updated(log, c3.id, 'auto')).conversation.assigneeId).toBe(agent.id);
    });

    it("an erased contact's conversation frees its agent's capacity for the next one waiting", async () => {
      const s = await setup(1, { mode: 'auto', defaultCapacity: 1 });
      const [agent] = s.agents as [TestAgent];
      const { log } = await watch(s);
      await online(agent);
      await log.wait<AgentPresenceEvent>('agent.presence', (e) => e.agentId === agent.id && e.status === 'online');
      const erased = await start(s.projectId, 'forget me');
      await updated(log, erased.id, 'auto');
      const next = await start(s.projectId, 'me next');
      const res = await api().delete(`/v1/projects/${s.projectId}/leads/${erased.leadId}`, { token: s.owner.token });
      expect(res.status).toBe(204);
      expect((await updated(log, next.id, 'auto')).conversation.assigneeId).toBe(agent.id);
    });

    it('switching to auto assigns what is already waiting', async () => {
      const s = await setup(1);
      const [agent] = s.agents as [TestAgent];
      const { log } = await watch(s);
      await online(agent);
      const waiting = await start(s.projectId);
      await api().patch(`/v1/projects/${s.projectId}/routing`, { token: s.owner.token, body: { mode: 'auto' } });
      expect((await updated(log, waiting.id, 'auto')).conversation.assigneeId).toBe(agent.id);
    });
  });

  describe('transfers', () => {
    it('move a conversation to an agent or to a team, announced with the reason', async () => {
      const s = await setup(2);
      const [a1, a2] = s.agents as [TestAgent, TestAgent];
      const { log } = await watch(s);
      const console1 = await online(a1);
      const c = await start(s.projectId);
      await ok(console1, 'conversation:join', { conversationId: c.id });
      const joined = await updated(log, c.id, 'manual');
      expect(joined.change?.by).toEqual({ type: 'agent', id: a1.id, name: expect.any(String) });

      const toAgent = await ok<ConversationResult>(console1, 'conversation:transfer', {
        conversationId: c.id,
        agentId: a2.id,
      });
      expect(toAgent.conversation.assigneeId).toBe(a2.id);
      const pushed = await updated(log, c.id, 'transfer');
      expect(pushed.change?.by).toEqual({ type: 'agent', id: a1.id, name: expect.any(String) });

      const team = (
        await api().post<TeamResponse>(`/v1/projects/${s.projectId}/teams`, {
          token: s.owner.token,
          body: { name: 'Escalations', memberIds: [a1.id] },
        })
      ).body.team;
      const toTeam = await ok<ConversationResult>(console1, 'conversation:transfer', {
        conversationId: c.id,
        teamId: team.id,
      });
      expect(toTeam.conversation.teamId).toBe(team.id);
      expect(toTeam.conversation.assigneeId).toBeUndefined();
      expect(toTeam.conversation.status).toBe('open');
      const queue = await api().get<Page<Conversation>>(`/v1/projects/${s.projectId}/queue?teamId=${team.id}`, {
        token: a2.token,
      });
      expect(queue.body.items.map((q) => q.id)).toEqual([c.id]);

      // Deleting the team sends its conversations back to the whole project.
      await api().delete(`/v1/projects/${s.projectId}/teams/${team.id}`, { token: s.owner.token });
      await waitFor('the conversation to leave the deleted team', async () => !(await stored(c.id))['teamId']);
    });

    it("refuse another project's agent, unknown teams, non-members and resolved conversations, changing nothing", async () => {
      const s = await setup(2);
      const [a1, a2] = s.agents as [TestAgent, TestAgent];
      const stranger = (await setup(1)).agents[0] as TestAgent;
      const console1 = await online(a1);
      const c = await start(s.projectId);
      await ok(console1, 'conversation:join', { conversationId: c.id });
      const before = await stored(c.id);
      const team = (
        await api().post<TeamResponse>(`/v1/projects/${s.projectId}/teams`, {
          token: s.owner.token,
          body: { name: 'Only a1', memberIds: [a1.id] },
        })
      ).body.team;

      const cases: [unknown, string][] = [
        [{ conversationId: c.id, agentId: stranger.id }, 'NOT_FOUND'],
        [{ conversationId: c.id, teamId: 'no-such-team' }, 'NOT_FOUND'],
        [{ conversationId: 'no-such-conversation', agentId: a2.id }, 'NOT_FOUND'],
        [{ conversationId: c.id, agentId: a2.id, teamId: team.id }, 'BAD_REQUEST'],
        [{ conversationId: c.id }, 'BAD_REQUEST'],
        [{ conversationId: c.id, agentId: a2.id, extra: 1 }, 'BAD_REQUEST'],
      ];
      for (const [payload, code] of cases) {
        const ack = await command(console1, 'conversation:transfer', payload);
        expect({ payload, code: ack.ok ? 'ok' : ack.error.code }).toEqual({ payload, code });
      }
      expect(await stored(c.id)).toEqual(before);

      await ok(console1, 'conversation:resolve', { conversationId: c.id });
      // The resolve's note ("… resolved the conversation") is written right after the ack: the
      // snapshot is taken once it is there, so that only the transfer could change it.
      const closed = await waitFor('the status note', async () => {
        const doc = await stored(c.id);
        return (doc['pendingNotes'] as unknown[] | undefined)?.length ? false : doc;
      });
      const ack = await command(console1, 'conversation:transfer', { conversationId: c.id, agentId: a2.id });
      expect(ack.ok ? 'ok' : ack.error.code).toBe('BAD_REQUEST');
      expect(await stored(c.id)).toEqual(closed);
    });

    it('to a team: routed to an online member of that team only', async () => {
      const s = await setup(2, { mode: 'auto', defaultCapacity: 5 });
      const [a1, a2] = s.agents as [TestAgent, TestAgent];
      const { log } = await watch(s);
      const console1 = await online(a1);
      await log.wait<AgentPresenceEvent>('agent.presence', (e) => e.agentId === a1.id && e.status === 'online');
      const c = await start(s.projectId);
      expect((await updated(log, c.id, 'auto')).conversation.assigneeId).toBe(a1.id);

      const team = (
        await api().post<TeamResponse>(`/v1/projects/${s.projectId}/teams`, {
          token: s.owner.token,
          body: { name: 'Second line', memberIds: [a2.id] },
        })
      ).body.team;
      await ok(console1, 'conversation:transfer', { conversationId: c.id, teamId: team.id });
      // a1 has room, but is not in the team: it waits for a2, in that team's queue only.
      await updated(log, c.id, 'transfer');
      const queued = async (teamId: string) =>
        (
          await api().get<Page<Conversation>>(`/v1/projects/${s.projectId}/queue?teamId=${teamId}`, {
            token: s.owner.token,
          })
        ).body.items.map((q) => q.id);
      expect(await queued(team.id)).toEqual([c.id]);
      expect(await queued('none')).toEqual([]);
      log.clear();
      await online(a2);
      const assigned = await updated(log, c.id, 'auto');
      expect(assigned.conversation).toMatchObject({ assigneeId: a2.id, teamId: team.id });
    });
  });

  describe('presence and requeue', () => {
    it('re-queues an offline assignee’s open conversations to someone online, unless the project says not to', async () => {
      const s = await setup(2, { mode: 'auto', defaultCapacity: 5 });
      const [a1, a2] = s.agents as [TestAgent, TestAgent];
      const { log } = await watch(s);
      const console1 = await online(a1);
      await log.wait<AgentPresenceEvent>('agent.presence', (e) => e.agentId === a1.id && e.status === 'online');
      const c = await start(s.projectId);
      await updated(log, c.id, 'auto');
      await online(a2);
      await log.wait<AgentPresenceEvent>('agent.presence', (e) => e.agentId === a2.id && e.status === 'online');

      // Turned off: a1 goes offline and keeps the conversation.
      await api().patch(`/v1/projects/${s.projectId}/routing`, {
        token: s.owner.token,
        body: { requeueOffline: false },
      });
      console1.close();
      await log.wait<AgentPresenceEvent>('agent.presence', (e) => e.agentId === a1.id && e.status === 'offline');
      // Something that does not happen has no event to wait for: routing reacts to the announcement
      // at once, and handles offline agents again at the start of every sweep.
      await twoSweeps();
      expect((await stored(c.id))['assigneeId']).toBe(a1.id);

      // Turned on: a1 back, then gone again: re-queued, and a2 takes it.
      await api().patch(`/v1/projects/${s.projectId}/routing`, {
        token: s.owner.token,
        body: { requeueOffline: true },
      });
      const again = await online(a1);
      await log.wait<AgentPresenceEvent>('agent.presence', (e) => e.agentId === a1.id && e.status === 'online', 5000);
      log.clear();
      again.close();
      const requeued = await updated(log, c.id, 'requeue');
      expect(requeued.change?.by).toEqual({ type: 'system' });
      expect((await updated(log, c.id, 'auto')).conversation.assigneeId).toBe(a2.id);
    });

    it('refuses a status agents may not choose', async () => {
      const s = await setup(1);
      const socket = await online(s.agents[0] as TestAgent);
      for (const status of ['offline', 'busy', undefined]) {
        const ack = await command(socket, 'agent:status', { status });
        expect(ack.ok ? 'ok' : ack.error.code).toBe('BAD_REQUEST');
      }
    });
  });

  describe('business hours and the widget', () => {
    const closedAllWeek = {
      enabled: true,
      timeZone: 'Europe/Paris',
      weekly: {},
      awayMessage: "We're away; we'll reply by email.",
      askForEmailWhenAway: true,
    };

    it('tell visitors when nobody can answer, with the away message, and mark their conversations offline', async () => {
      const s = await setup(1);
      const hours = `/v1/projects/${s.projectId}/business-hours`;
      const widget = () => api().get<WidgetConfig>(`/v1/projects/${s.projectId}/widget`);

      // Defaults: always within hours; nobody online yet.
      expect((await widget()).body.availability).toEqual({
        available: false,
        withinHours: true,
        agentsOnline: false,
        askForEmail: false,
      });
      const agentSocket = await online(s.agents[0] as TestAgent);
      await waitFor('the agent online in the widget', async () => (await widget()).body.availability.available);
      const answered = await start(s.projectId);
      expect(answered.offline).toBeUndefined();

      // Open every day from 00:00 to 24:00 but today, which is a closed date: outside hours.
      const today = new Date().toLocaleDateString('en-CA', { timeZone: 'Europe/Paris' });
      const allDay = [{ from: '00:00', to: '24:00' }];
      const week = Object.fromEntries(
        ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'].map((d) => [d, allDay]),
      );
      const put = await api().put<BusinessHoursResponse>(hours, {
        token: s.owner.token,
        body: { ...closedAllWeek, weekly: week, closedDates: [today] },
      });
      expect(put.status).toBe(200);
      expect(put.body.businessHours).toMatchObject({ enabled: true, closedDates: [today], askForEmailWhenAway: true });
      const away = (await widget()).body.availability;
      expect(away).toMatchObject({
        available: false,
        withinHours: false,
        agentsOnline: true,
        awayMessage: closedAllWeek.awayMessage,
        askForEmail: true,
      });
      // Open again at the next local midnight.
      expect(Date.parse(away.nextOpenAt ?? '')).toBeGreaterThan(Date.now());
      expect(Date.parse(away.nextOpenAt ?? '')).toBeLessThanOrEqual(Date.now() + 25 * 3600_000);

      const offline = await start(s.projectId);
      expect(offline.offline).toBe(true);
      expect((await stored(offline.id))['offline']).toBe(true);
      // Agents find those first: the inbox filtered on them, and on the others.
      const inbox = (flag: string) =>
        api().get<Page<Conversation>>(`/v1/projects/${s.projectId}/conversations?offline=${flag}`, {
          token: s.owner.token,
        });
      expect((await inbox('true')).body.items.map((c) => c.id)).toEqual([offline.id]);
      expect((await inbox('false')).body.items.map((c) => c.id)).toEqual([answered.id]);
      expect((await inbox('yes')).status).toBe(400);
      agentSocket.close();

      // Every agent reads the settings back as stored (a day left out: closed all day).
      const read = await api().get<BusinessHoursResponse>(hours, { token: (s.agents[0] as TestAgent).token });
      expect(read.body.businessHours).toEqual(put.body.businessHours);
      const empty = await api().put<BusinessHoursResponse>(hours, { token: s.owner.token, body: closedAllWeek });
      expect(empty.body.businessHours.weekly.monday).toEqual([]);
    });

    it('refuse hours that cannot be read, changing nothing', async () => {
      const s = await setup(0);
      const hours = `/v1/projects/${s.projectId}/business-hours`;
      const before = (await api().get<BusinessHoursResponse>(hours, { token: s.owner.token })).body;
      for (const body of [
        { enabled: true, timeZone: 'Atlantis/Capital' },
        { enabled: true, timeZone: 'UTC', weekly: { monday: [{ from: '18:00', to: '09:00' }] } },
        { enabled: true, timeZone: 'UTC', closedDates: ['2025-13-01'] },
        { enabled: true, timeZone: 'UTC', weekly: { funday: [] } },
        { timeZone: 'UTC' },
      ]) {
        const res = await api().put<ErrorResponse>(hours, { token: s.owner.token, body });
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
      }
      expect((await api().get<BusinessHoursResponse>(hours, { token: s.owner.token })).body).toEqual(before);
    });
  });
});
