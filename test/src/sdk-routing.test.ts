import {
  createAgentClient,
  createVisitorClient,
  memoryStorage,
  ParleyError,
  type AgentClient,
  type AgentClientEvents,
  type ConnectionStatus,
} from '@parley/client-sdk';
import { startChaosProxy, type ChaosProxy } from './support/chaos-proxy';
import { createAgent, createProject, type TestAgent } from './support/fixtures';
import { startParley, type ParleyProcess } from './support/parley-process';
import { SdkEvents } from './support/sdk-events';
import { waitFor } from './support/wait';

/**
 * The routing half of the workflow through the SDK: presence kept live in the agent client (across
 * a reconnect too), the agent's own status, transfers, teams, routing settings and capacities, the
 * queue, business hours, and the visitor client's availability.
 */
describe('SDK: presence, routing, teams and availability', () => {
  let server: ParleyProcess;
  let proxy: ChaosProxy;
  const clients: { close(): void }[] = [];

  beforeAll(async () => {
    server = await startParley({
      env: { PRESENCE_GRACE: '500ms', ROUTING_SWEEP_INTERVAL: '300ms' },
      timeoutMs: 60_000,
    });
    proxy = await startChaosProxy(server.port);
  }, 90_000);
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
    server?.cleanup();
  });

  function agentClient(account: TestAgent, url = server.url): AgentClient {
    const client = createAgentClient({ url, token: account.token });
    clients.push(client);
    return client;
  }

  it('keeps every agent’s presence live, across a reconnect too, and sets its own', async () => {
    const { project } = await createProject(server.url);
    const [owner, other] = [
      await createAgent(server.url, project.id, 'owner'),
      await createAgent(server.url, project.id),
    ];
    // The console goes through the proxy, so its connection can be cut.
    const console = agentClient(owner, proxy.url);
    const events = new SdkEvents<AgentClientEvents>(
      (e, l) => console.on(e, l),
      ['presence', 'agent.presence', 'error'],
    );
    const statuses: ConnectionStatus[] = [];
    console.on('status', (s) => statuses.push(s));
    await console.ready;
    await waitFor('its own presence loaded', () => console.presence.of(owner.id) === 'online');
    expect(console.presence.of(other.id)).toBe('offline');

    const colleague = agentClient(other);
    await colleague.ready;
    await events.wait('presence', (p) => p.agentId === other.id && p.status === 'online');
    expect(console.presence.of(other.id)).toBe('online');

    // Its own choice: acknowledged, and what every console (its own too) sees.
    expect(await colleague.presence.set('away')).toEqual({ agentId: other.id, status: 'away' });
    expect(colleague.presence.of(other.id)).toBe('away');
    await events.wait('agent.presence', (p) => p.agentId === other.id && p.status === 'away');
    expect(console.presence.all()).toEqual(
      expect.arrayContaining([
        { agentId: owner.id, status: 'online' },
        { agentId: other.id, status: 'away' },
      ]),
    );

    // Cut off while the colleague comes back: after the reconnect the console knows.
    proxy.cutAll();
    await waitFor('the console to notice the cut', () => statuses.includes('reconnecting'));
    await colleague.presence.set('online');
    await waitFor('the console back, with the colleague online', () => {
      return console.status === 'connected' && console.presence.of(other.id) === 'online';
    });

    // The colleague leaves: offline once the grace period has passed.
    colleague.close();
    await events.wait('presence', (p) => p.agentId === other.id && p.status === 'offline');
    expect(events.of('error')).toEqual([]);
  });

  it('configures teams, routing, capacities and hours, transfers, and reads the queue', async () => {
    const { project } = await createProject(server.url);
    const owner = agentClient(await createAgent(server.url, project.id, 'owner'));
    const helper = await createAgent(server.url, project.id);
    await owner.ready;
    await owner.presence.set('away');

    const team = await owner.teams.create({ name: 'Sales', memberIds: [helper.id] });
    expect(await owner.teams.list()).toEqual([team]);
    expect(await owner.teams.update(team.id, { name: 'Sales EU' })).toMatchObject({ name: 'Sales EU' });
    expect(await owner.routing.update({ mode: 'auto', defaultCapacity: 1 })).toEqual({
      mode: 'auto',
      defaultCapacity: 1,
      requeueOffline: true,
    });
    expect(await owner.routing.get()).toMatchObject({ mode: 'auto' });
    await expect(owner.routing.setCapacity(helper.id, -1)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(owner.teams.get('no-such-team')).rejects.toBeInstanceOf(ParleyError);

    // A visitor arrives: nobody is online, and the widget says so.
    const visitor = createVisitorClient({ url: server.url, projectId: project.id, storage: memoryStorage() });
    clients.push(visitor);
    expect(await visitor.availability()).toMatchObject({ available: false, agentsOnline: false });
    const conversation = await visitor.startConversation({ text: 'anyone there?' });
    expect(conversation.data?.offline).toBe(true);
    const queue = await owner.routing.queue();
    expect(queue.items.map((c) => c.id)).toEqual([conversation.id]);

    // The helper comes online: the queued conversation is theirs, the visitor sees an agent there.
    const helperClient = agentClient(helper);
    const helperEvents = new SdkEvents<AgentClientEvents>((e, l) => helperClient.on(e, l), ['conversation.updated']);
    await helperClient.ready;
    const assigned = await helperEvents.wait(
      'conversation.updated',
      (e) => e.conversation.id === conversation.id && e.change?.reason === 'auto',
    );
    expect(assigned.conversation.assigneeId).toBe(helper.id);
    await waitFor('the visitor to see the assignee', () => conversation.data?.assigneeId === helper.id);
    expect(await visitor.availability()).toMatchObject({ available: true, agentsOnline: true });
    expect(await owner.routing.agents()).toEqual(
      expect.arrayContaining([
        { agentId: helper.id, capacity: null, effectiveCapacity: 1, activeConversations: 1, status: 'online' },
      ]),
    );

    // Transferred to the team: it waits for the team's online members, and its only one has room again.
    const moved = await owner.conversations.transfer(conversation.id, { teamId: team.id });
    expect(moved).toMatchObject({ teamId: team.id });
    expect(moved.assigneeId).toBeUndefined();
    const back = await helperEvents.wait(
      'conversation.updated',
      (e) => e.conversation.id === conversation.id && e.change?.reason === 'auto' && e.conversation.teamId === team.id,
    );
    expect(back.conversation.assigneeId).toBe(helper.id);
    expect(await owner.routing.setCapacity(helper.id, 3)).toMatchObject({ capacity: 3, effectiveCapacity: 3 });
    // And handed to the owner by hand.
    expect(await owner.conversations.transfer(conversation.id, { agentId: owner.agent?.id ?? '' })).toMatchObject({
      assigneeId: owner.agent?.id,
    });

    const hours = await owner.businessHours.replace({
      enabled: true,
      timeZone: 'America/New_York',
      weekly: { monday: [{ from: '09:00', to: '17:00' }] },
      awayMessage: 'Back on Monday',
    });
    expect(hours.weekly.monday).toEqual([{ from: '09:00', to: '17:00' }]);
    expect(await owner.businessHours.get()).toEqual(hours);
    await owner.teams.remove(team.id);
    expect(await owner.teams.list()).toEqual([]);
  });
});
