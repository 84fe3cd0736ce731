import {
  createAgentClient,
  createVisitorClient,
  memoryStorage,
  type AgentClientEvents,
  type ConnectionStatus,
  type VisitorConversation,
} from '@parley/client-sdk';
import { startChaosProxy, type ChaosProxy } from './support/chaos-proxy';
import { commandCount } from './support/command-count';
import { createAgent, createProject } from './support/fixtures';
import { startParley, type ParleyProcess } from './support/parley-process';
import { SdkEvents } from './support/sdk-events';
import { waitFor } from './support/wait';

describe('SDK: an agent console on a busy project', () => {
  let server: ParleyProcess;
  let proxy: ChaosProxy;
  const clients: { close(): void }[] = [];

  beforeAll(async () => {
    server = await startParley();
    proxy = await startChaosProxy(server.port);
  });
  afterAll(async () => {
    clients.splice(0).forEach((c) => c.close());
    await proxy?.close();
    await server?.stop();
    server?.cleanup();
  });

  it('holds only the conversations the console uses, at most maxConversations, and catches up only those', async () => {
    const { project } = await createProject(server.url);
    const account = await createAgent(server.url, project.id);
    const agent = createAgentClient({ url: proxy.url, token: account.token, maxConversations: 3 });
    clients.push(agent);
    const events = new SdkEvents<AgentClientEvents>((e, l) => agent.on(e, l), ['message', 'message.created']);
    const statuses: ConnectionStatus[] = [];
    agent.on('status', (s) => statuses.push(s));
    await agent.ready;

    // Six visitors, a conversation each.
    const conversations: VisitorConversation[] = [];
    for (let i = 0; i < 6; i++) {
      const visitor = createVisitorClient({ url: server.url, projectId: project.id, storage: memoryStorage() });
      clients.push(visitor);
      conversations.push(await visitor.startConversation({ text: `visitor ${i}` }));
    }
    const ids = conversations.map((c) => c.id);
    for (const id of ids) await events.wait('message.created', (e) => e.message.conversationId === id);
    // Every message of the project is heard; none is kept, since the console opened nothing.
    expect(events.of('message')).toEqual([]);
    for (const id of ids) expect(agent.conversations.messages(id)).toEqual([]);

    // The console opens four, one after the other: the one used longest ago is dropped.
    for (const id of ids.slice(0, 4)) await agent.conversations.history(id);
    expect(ids.map((id) => agent.conversations.messages(id).length)).toEqual([0, 1, 1, 1, 0, 0]);

    // A live message is kept for a held conversation, only forwarded for another.
    await conversations[1]?.send('more for 1');
    await conversations[5]?.send('more for 5');
    await events.wait('message.created', (e) => e.message.text === 'more for 5');
    await events.wait('message', (e) => e.message.text === 'more for 1');
    expect(ids.map((id) => agent.conversations.messages(id).length)).toEqual([0, 2, 1, 1, 0, 0]);

    // After a reconnect, the client catches up the three it holds, and nothing else.
    const before = await commandCount(server, '/agent', 'conversation:history');
    proxy.cutAll();
    await waitFor('a reconnect', () => statuses.includes('reconnecting') && agent.status === 'connected');
    await waitFor(
      'three catch-ups',
      async () => (await commandCount(server, '/agent', 'conversation:history')) >= before + 3,
    );
    // A history fetch of its own after them is the marker: the reconnect asked for every catch-up
    // at once (four may run together), so any fourth would have been answered by the time it is.
    await agent.conversations.history(ids[3] as string);
    expect(await commandCount(server, '/agent', 'conversation:history')).toBe(before + 4);

    // The console closes one: released, and not caught up any more.
    expect(agent.conversations.release(ids[1] as string)).toBe(true);
    expect(agent.conversations.messages(ids[1] as string)).toEqual([]);
  });
});
