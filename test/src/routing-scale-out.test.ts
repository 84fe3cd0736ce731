import type {
  AgentPresenceEvent,
  AgentRoutingListResponse,
  Conversation,
  ConversationStartResult,
  ConversationUpdatedEvent,
  Page,
  PresenceListResponse,
} from '@parley/protocol';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startSharedMongo, type SharedMongo } from './support/mongo-process';
import { startParley, type ParleyProcess } from './support/parley-process';
import { startRedis, type RedisProcess } from './support/redis-process';
import { connectAgent, connectVisitor, EventLog, ok, type AgentClientSocket } from './support/sockets';
import { waitFor } from './support/wait';

/**
 * Routing across gateway processes that share one standalone embedded-mongo (or MONGODB_URI) and a
 * Redis of the test's own: presence kept in Redis, assignments decided by atomic updates, so two
 * nodes taking conversations at the same moment never put an agent over capacity or assign a
 * conversation twice, and a killed node's agents go offline and give their conversations back.
 */
describe('routing across nodes', () => {
  let redis: RedisProcess;
  let mongo: SharedMongo;
  let nodeA: ParleyProcess;
  let nodeB: ParleyProcess;
  const sockets: { close(): void }[] = [];
  const extraNodes: ParleyProcess[] = [];

  // A short grace period and sweep, so that the tests wait seconds, not the production defaults. A
  // loaded machine can take a while to start a node: the deadline is for "never", not a speed check.
  const startNode = () =>
    startParley({
      env: { MONGODB_URI: mongo.uri, REDIS_URL: redis.url, PRESENCE_GRACE: '1s', ROUTING_SWEEP_INTERVAL: '500ms' },
      timeoutMs: 60_000,
    });

  beforeAll(async () => {
    redis = await startRedis();
    mongo = await startSharedMongo();
    [nodeA, nodeB] = await Promise.all([startNode(), startNode()]);
  }, 120_000);

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  afterAll(async () => {
    for (const node of [nodeA, nodeB, ...extraNodes]) {
      await node?.stop();
      node?.cleanup();
    }
    await mongo?.stop();
    await redis?.stop();
  }, 30_000);

  interface Team {
    projectId: string;
    owner: TestAgent;
    agents: TestAgent[];
  }

  async function projectWith(agentCount: number, routing: Record<string, unknown>): Promise<Team> {
    const projectId = (await createProject(nodeA.url)).project.id;
    const owner = await createAgent(nodeA.url, projectId, 'owner');
    const agents = await Promise.all(Array.from({ length: agentCount }, () => createAgent(nodeA.url, projectId)));
    const set = await client(nodeA.url).patch(`/v1/projects/${projectId}/routing`, {
      token: owner.token,
      body: routing,
    });
    expect(set.status).toBe(200);
    return { projectId, owner, agents };
  }

  async function agentOn(node: ParleyProcess, agent: TestAgent): Promise<AgentClientSocket> {
    const socket = await connectAgent(node.url, agent.token);
    sockets.push(socket);
    return socket;
  }

  /**
   * The owner's console on `node`, recording every push. The owner is an agent too: away, so that
   * routing leaves it out.
   */
  async function watcher(node: ParleyProcess, team: Team): Promise<EventLog> {
    const socket = await agentOn(node, team.owner);
    const log = new EventLog(socket);
    await ok(socket, 'agent:status', { status: 'away' });
    return log;
  }

  async function presenceOn(node: ParleyProcess, team: Team): Promise<Map<string, string>> {
    const res = await client(node.url).get<PresenceListResponse>(`/v1/projects/${team.projectId}/presence`, {
      token: team.owner.token,
    });
    // Not answered (Redis restarting): nothing known yet; the callers wait on.
    if (res.status !== 200) return new Map([['(status)', String(res.status)]]);
    return new Map(res.body.items.map((p) => [p.agentId, p.status]));
  }

  async function waitPresence(node: ParleyProcess, team: Team, expected: Record<string, string>): Promise<void> {
    let last = new Map<string, string>();
    await waitFor(
      `presence on ${node.url} to be ${JSON.stringify(expected)}`,
      async () => {
        last = await presenceOn(node, team);
        return Object.entries(expected).every(([agentId, status]) => last.get(agentId) === status);
      },
      { describe: () => JSON.stringify([...last]) },
    );
  }

  async function routingAgents(team: Team): Promise<Map<string, number>> {
    const res = await client(nodeB.url).get<AgentRoutingListResponse>(`/v1/projects/${team.projectId}/routing/agents`, {
      token: team.owner.token,
    });
    return new Map(res.body.items.map((a) => [a.agentId, a.activeConversations]));
  }

  async function queueOf(team: Team): Promise<Conversation[]> {
    const res = await client(nodeA.url).get<Page<Conversation>>(`/v1/projects/${team.projectId}/queue?limit=100`, {
      token: team.owner.token,
    });
    return res.body.items;
  }

  async function startConversation(node: ParleyProcess, team: Team, text: string): Promise<Conversation> {
    const { token } = await anonymousVisitor(node.url, team.projectId);
    const visitor = await connectVisitor(node.url, token);
    sockets.push(visitor);
    return (await ok<ConversationStartResult>(visitor, 'conversation:start', { text })).conversation;
  }

  const assignments = (log: EventLog, reason: string) =>
    log.of<ConversationUpdatedEvent>('conversation.updated').filter((e) => e.change?.reason === reason);

  test('3 agents with capacity 2 and 7 conversations started at once on two nodes: 2/2/2 and 1 queued; resolving one assigns the queued one', async () => {
    const team = await projectWith(3, { mode: 'auto', defaultCapacity: 2 });
    const watchA = await watcher(nodeA, team);
    const watchB = await watcher(nodeB, team);
    const [a1, a2, a3] = team.agents as [TestAgent, TestAgent, TestAgent];
    const consoles = new Map([
      [a1.id, await agentOn(nodeA, a1)],
      [a2.id, await agentOn(nodeB, a2)],
      [a3.id, await agentOn(nodeA, a3)],
    ]);
    await waitPresence(nodeA, team, { [a1.id]: 'online', [a2.id]: 'online', [a3.id]: 'online' });
    await waitPresence(nodeB, team, { [a1.id]: 'online', [a2.id]: 'online', [a3.id]: 'online' });

    // Visitors ready on both nodes, then every start sent at the same moment.
    const visitors = await Promise.all(
      Array.from({ length: 7 }, async (_, i) => {
        const node = i % 2 === 0 ? nodeA : nodeB;
        const { token } = await anonymousVisitor(node.url, team.projectId);
        const socket = await connectVisitor(node.url, token);
        sockets.push(socket);
        return socket;
      }),
    );
    const started = await Promise.all(
      visitors.map((v, i) => ok<ConversationStartResult>(v, 'conversation:start', { text: `help ${i}` })),
    );
    const ids = new Set(started.map((s) => s.conversation.id));
    expect(ids.size).toBe(7);

    let counts = new Map<string, number>();
    let queued: Conversation[] = [];
    await waitFor(
      '6 conversations assigned 2/2/2 and 1 queued',
      async () => {
        [counts, queued] = await Promise.all([routingAgents(team), queueOf(team)]);
        return [a1, a2, a3].every((a) => counts.get(a.id) === 2) && queued.length === 1;
      },
      { describe: () => `active ${JSON.stringify([...counts])}, queued ${queued.length}` },
    );

    // Every conversation assigned at most once, each by one push announcing it, to an agent who was
    // never over capacity on the way (the pushes are in the order the assignments were made).
    await waitFor('6 assignments heard on node B', () => assignments(watchB, 'auto').length >= 6);
    const assignedIds = assignments(watchB, 'auto').map((e) => e.conversation.id);
    expect(new Set(assignedIds).size).toBe(assignedIds.length);
    expect(assignedIds.length).toBe(6);
    const load = new Map<string, number>();
    for (const event of assignments(watchB, 'auto')) {
      const agentId = event.conversation.assigneeId ?? '';
      load.set(agentId, (load.get(agentId) ?? 0) + 1);
      expect(load.get(agentId)).toBeLessThanOrEqual(2);
    }
    // Node A's console heard the same six.
    await waitFor('6 assignments heard on node A', () => assignments(watchA, 'auto').length >= 6);
    expect(new Set(assignments(watchA, 'auto').map((e) => e.conversation.id))).toEqual(new Set(assignedIds));

    const [waiting] = queued as [Conversation];
    expect(assignedIds).not.toContain(waiting.id);
    expect(waiting.assigneeId).toBeUndefined();

    // The agent of the first assignment resolves it: the queued conversation is theirs next.
    const first = assignments(watchB, 'auto')[0]?.conversation as Conversation;
    const resolver = first.assigneeId as string;
    await ok(consoles.get(resolver) as AgentClientSocket, 'conversation:resolve', { conversationId: first.id });
    const next = await watchA.wait<ConversationUpdatedEvent>(
      'conversation.updated',
      (e) => e.conversation.id === waiting.id && e.change?.reason === 'auto',
      20_000,
    );
    expect(next.conversation.assigneeId).toBe(resolver);
    await waitFor('the queue to be empty and 2/2/2 again', async () => {
      [counts, queued] = await Promise.all([routingAgents(team), queueOf(team)]);
      return [a1, a2, a3].every((a) => counts.get(a.id) === 2) && queued.length === 0;
    });
  }, 90_000);

  test('the oldest waiting conversation is assigned first when capacity frees', async () => {
    const team = await projectWith(1, { mode: 'auto', defaultCapacity: 1 });
    const [agent] = team.agents as [TestAgent];
    const watch = await watcher(nodeB, team);
    const console = await agentOn(nodeB, agent);
    await waitPresence(nodeA, team, { [agent.id]: 'online' });

    const c1 = await startConversation(nodeA, team, 'first');
    await watch.wait<ConversationUpdatedEvent>(
      'conversation.updated',
      (e) => e.conversation.id === c1.id && e.change?.reason === 'auto',
    );
    const c2 = await startConversation(nodeB, team, 'second');
    const c3 = await startConversation(nodeA, team, 'third');
    expect((await queueOf(team)).map((c) => c.id)).toEqual([c2.id, c3.id]);

    await ok(console, 'conversation:resolve', { conversationId: c1.id });
    const assigned = await watch.wait<ConversationUpdatedEvent>(
      'conversation.updated',
      (e) => e.change?.reason === 'auto' && e.conversation.id !== c1.id,
    );
    expect(assigned.conversation.id).toBe(c2.id);
    expect(assigned.conversation.assigneeId).toBe(agent.id);
    await waitFor('c3 alone in the queue', async () => {
      const queue = await queueOf(team);
      return queue.length === 1 && queue[0]?.id === c3.id;
    });
  }, 60_000);

  test('presence is the same on both nodes: online, away, offline after the grace period', async () => {
    const team = await projectWith(1, { mode: 'auto', defaultCapacity: 2 });
    const [agent] = team.agents as [TestAgent];
    const watchA = await watcher(nodeA, team);
    const watchB = await watcher(nodeB, team);

    const console = await agentOn(nodeA, agent);
    for (const watch of [watchA, watchB]) {
      await watch.wait<AgentPresenceEvent>('agent.presence', (e) => e.agentId === agent.id && e.status === 'online');
    }
    await waitPresence(nodeB, team, { [agent.id]: 'online' });

    const ack = await ok<AgentPresenceEvent>(console, 'agent:status', { status: 'away' });
    expect(ack).toEqual({ agentId: agent.id, status: 'away' });
    for (const watch of [watchA, watchB]) {
      await watch.wait<AgentPresenceEvent>('agent.presence', (e) => e.agentId === agent.id && e.status === 'away');
    }
    await waitPresence(nodeA, team, { [agent.id]: 'away' });
    await waitPresence(nodeB, team, { [agent.id]: 'away' });

    // Away: a new conversation waits, and the widget says nobody can answer.
    const waiting = await startConversation(nodeB, team, 'anyone?');
    expect(waiting.offline).toBe(true);
    const widget = await client(nodeB.url).get<{ availability: { available: boolean; agentsOnline: boolean } }>(
      `/v1/projects/${team.projectId}/widget`,
    );
    expect(widget.body.availability).toMatchObject({ available: false, agentsOnline: false });

    // Back online: the waiting conversation is theirs.
    await ok(console, 'agent:status', { status: 'online' });
    const assigned = await watchB.wait<ConversationUpdatedEvent>(
      'conversation.updated',
      (e) => e.conversation.id === waiting.id && e.change?.reason === 'auto',
    );
    expect(assigned.conversation.assigneeId).toBe(agent.id);

    // A reload (a new socket before the grace period ends) is not an absence: no offline push.
    console.close();
    const reloaded = await agentOn(nodeB, agent);
    // The last socket gone: offline on both nodes once the grace period has passed.
    reloaded.close();
    for (const watch of [watchA, watchB]) {
      await watch.wait<AgentPresenceEvent>('agent.presence', (e) => e.agentId === agent.id && e.status === 'offline');
    }
    const statuses = watchA.of<AgentPresenceEvent>('agent.presence').filter((e) => e.agentId === agent.id);
    // online, away, online, offline: the reload in between announced nothing.
    expect(statuses.map((e) => e.status)).toEqual(['online', 'away', 'online', 'offline']);
    await waitPresence(nodeA, team, { [agent.id]: 'offline' });
    await waitPresence(nodeB, team, { [agent.id]: 'offline' });
  }, 60_000);

  test('Redis restarted empty: the nodes write their agents back, choices included, and nobody is announced offline', async () => {
    const team = await projectWith(2, { mode: 'auto', defaultCapacity: 2 });
    const [onA, onB] = team.agents as [TestAgent, TestAgent];
    const watch = await watcher(nodeB, team);
    await agentOn(nodeA, onA);
    await agentOn(nodeB, onB);
    const expected = { [onA.id]: 'online', [onB.id]: 'online', [team.owner.id]: 'away' };
    await waitPresence(nodeA, team, expected);

    await redis.restart();
    // Everything presence held is gone with it; each node notices on its next beat and restores.
    await waitPresence(nodeA, team, expected);
    await waitPresence(nodeB, team, expected);
    expect(watch.of<AgentPresenceEvent>('agent.presence').filter((e) => e.status === 'offline')).toEqual([]);

    // And presence works on as before: a socket gone is an agent offline after the grace period.
    const late = await agentOn(nodeA, onA);
    sockets
      .splice(0)
      .filter((s) => s !== late)
      .forEach((s) => s.close());
    await waitPresence(nodeB, team, { [onB.id]: 'offline' });
    late.close();
    await waitPresence(nodeB, team, { [onA.id]: 'offline' });
  }, 90_000);

  test("an agent's node killed: after the grace period their conversations are re-queued and go to an agent online elsewhere", async () => {
    // The node to kill is this test's own, so the others keep both of theirs.
    const doomed = await startNode();
    extraNodes.push(doomed);
    const team = await projectWith(2, { mode: 'auto', defaultCapacity: 2 });
    const [victim, survivor] = team.agents as [TestAgent, TestAgent];
    const watch = await watcher(nodeB, team);
    sockets.push(await connectAgent(doomed.url, victim.token));
    await waitPresence(nodeB, team, { [victim.id]: 'online' });

    const c1 = await startConversation(nodeA, team, 'one');
    const c2 = await startConversation(nodeB, team, 'two');
    for (const c of [c1, c2]) {
      const assigned = await watch.wait<ConversationUpdatedEvent>(
        'conversation.updated',
        (e) => e.conversation.id === c.id && e.change?.reason === 'auto',
      );
      expect(assigned.conversation.assigneeId).toBe(victim.id);
    }
    // The survivor comes online with room for both, but they are the victim's while it is there.
    await agentOn(nodeA, survivor);
    await waitPresence(nodeB, team, { [survivor.id]: 'online' });

    await doomed.kill();
    await watch.wait<AgentPresenceEvent>(
      'agent.presence',
      (e) => e.agentId === victim.id && e.status === 'offline',
      30_000,
    );
    for (const c of [c1, c2]) {
      const requeued = await watch.wait<ConversationUpdatedEvent>(
        'conversation.updated',
        (e) => e.conversation.id === c.id && e.change?.reason === 'requeue',
        20_000,
      );
      expect(requeued.conversation.assigneeId).toBeUndefined();
      const reassigned = await watch.wait<ConversationUpdatedEvent>(
        'conversation.updated',
        (e) => e.conversation.id === c.id && e.change?.reason === 'auto' && e.conversation.assigneeId === survivor.id,
        20_000,
      );
      expect(reassigned.conversation.status).toBe('open');
    }
    await waitPresence(nodeA, team, { [victim.id]: 'offline', [survivor.id]: 'online' });
    await waitPresence(nodeB, team, { [victim.id]: 'offline', [survivor.id]: 'online' });
    const counts = await routingAgents(team);
    expect(counts.get(survivor.id)).toBe(2);
    expect(counts.get(victim.id) ?? 0).toBe(0);
    // Re-queued once each: the node that announced the offline agent and the sweeps of the others
    // do not re-queue the same conversation twice.
    expect(
      assignments(watch, 'requeue')
        .map((e) => e.conversation.id)
        .sort(),
    ).toEqual([c1.id, c2.id].sort());
  }, 150_000);
});
