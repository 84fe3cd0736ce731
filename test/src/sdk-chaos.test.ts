import {
  createAgentClient,
  createVisitorClient,
  memoryStorage,
  type AgentClientEvents,
  type ClientMessage,
  type Message,
  type VisitorClientEvents,
} from '@parley/client-sdk';
import { startChaosProxy, type ChaosProxy } from './support/chaos-proxy';
import { createAgent, createProject } from './support/fixtures';
import { startParley, type ParleyProcess } from './support/parley-process';
import { SdkEvents } from './support/sdk-events';
import { waitFor } from './support/wait';

const TOTAL = 200;
const BATCH = 20;

/**
 * What happens to the network while each batch of 20 sends is in flight. `kill` is a crash
 * (SIGKILL, nothing flushed), `term` a graceful restart (the server says goodbye to every socket),
 * both on the same data directory; every restart comes back on a new port behind the same proxy.
 */
const PLAN = ['cut', 'cut x3', 'kill', 'cut', 'cut x3', 'term', 'cut', 'kill', 'cut x3', 'cut'] as const;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = () => pause(Math.floor(Math.random() * 40));

interface Participant {
  name: string;
  send(text: string): Promise<Message>;
  messages(): ClientMessage[];
  pending(): number;
  sentEvents(): number[];
  errors(): unknown[];
}

describe('SDK delivery under network chaos', () => {
  let first: ParleyProcess;
  let server: ParleyProcess;
  let proxy: ChaosProxy;
  const clients: { close(): void }[] = [];

  beforeAll(async () => {
    // On its embedded database in DATA_DIR (or the same MONGODB_URI database), so a restart keeps the data.
    first = await startParley();
    server = first;
    proxy = await startChaosProxy(server.port);
  });
  afterAll(async () => {
    clients.splice(0).forEach((c) => c.close());
    await proxy?.close();
    await server?.stop();
    first?.cleanup();
  });

  /** Restarts the server on the same data and points the proxy at its new port. */
  async function restart(how: 'kill' | 'term'): Promise<void> {
    if (how === 'kill') await server.kill();
    else await server.stop();
    // Sends made while the server is down wait in the clients' outboxes.
    await pause(200);
    server = await startParley({ dataDir: first.dataDir, env: first.env });
    proxy.retarget(server.port);
  }

  /** Cuts every connection through the proxy at random moments until stopped. */
  function chaosMonkey(): () => Promise<void> {
    let running = true;
    const loop = (async () => {
      while (running) {
        await pause(300 + Math.floor(Math.random() * 1200));
        if (running) proxy.cutAll();
      }
    })();
    return async () => {
      running = false;
      await loop;
    };
  }

  async function chaos(step: (typeof PLAN)[number]): Promise<void> {
    await jitter();
    if (step === 'kill' || step === 'term') return restart(step);
    for (let i = 0; i < (step === 'cut x3' ? 3 : 1); i++) {
      proxy.cutAll();
      await jitter();
    }
  }

  it('two visitor tabs and an agent exchange 200 messages through cuts and restarts: all there, in order, once', async () => {
    const { project } = await createProject(server.url);
    const account = await createAgent(server.url, project.id);

    // Two tabs of one visitor (one browser's storage), and an agent console; all through the proxy.
    const storage = memoryStorage();
    const tab1 = createVisitorClient({ url: proxy.url, projectId: project.id, storage });
    clients.push(tab1);
    await tab1.ready;
    // The second tab on HTTP long-polling, as behind a proxy that blocks WebSockets.
    const tab2 = createVisitorClient({ url: proxy.url, projectId: project.id, storage, transports: ['polling'] });
    clients.push(tab2);
    await tab2.ready;
    expect(tab2.user?.id).toBe(tab1.user?.id);
    const agent = createAgentClient({ url: proxy.url, email: account.email, password: account.password });
    clients.push(agent);
    await agent.ready;

    const conversation = await tab1.startConversation({ attributes: { test: 'chaos' } });
    const id = conversation.id;
    await agent.conversations.join(id);
    const tab2Conversation = tab2.conversation(id);

    const tab1Events = new SdkEvents<VisitorClientEvents>((e, l) => tab1.on(e, l), ['message', 'error']);
    const tab2Events = new SdkEvents<VisitorClientEvents>((e, l) => tab2.on(e, l), ['message', 'error']);
    const agentEvents = new SdkEvents<AgentClientEvents>((e, l) => agent.on(e, l), ['message', 'error', 'reload']);
    /** The seqs of the stored messages a client announced through its `message` event. */
    const sentSeqs = (events: { conversationId: string; message: ClientMessage }[]) =>
      events
        .filter((e) => e.conversationId === id && e.message.status === 'sent')
        .map((e) => (e.message.status === 'sent' ? e.message.seq : -1));

    const participants: Participant[] = [
      {
        name: 'tab1',
        send: (text) => conversation.send(text),
        messages: () => conversation.messages,
        pending: () => tab1.pendingCount,
        sentEvents: () => sentSeqs(tab1Events.of('message')),
        errors: () => tab1Events.of('error'),
      },
      {
        name: 'tab2',
        send: (text) => tab2Conversation.send(text),
        messages: () => tab2Conversation.messages,
        pending: () => tab2.pendingCount,
        sentEvents: () => sentSeqs(tab2Events.of('message')),
        errors: () => tab2Events.of('error'),
      },
      {
        name: 'agent',
        send: (text) => agent.conversations.send(id, text),
        messages: () => agent.conversations.messages(id),
        pending: () => agent.conversations.messages(id).filter((m) => m.status !== 'sent').length,
        sentEvents: () => sentSeqs(agentEvents.of('message')),
        errors: () => agentEvents.of('error'),
      },
    ];

    // Each batch goes out at once (most of it queued in the outboxes) and the network misbehaves
    // while it is in flight; every send must still resolve with its stored message.
    // On top of the plan, connections are also cut at random moments all along.
    const sentBy = new Map<string, string[]>(participants.map((p) => [p.name, []]));
    const stopMonkey = chaosMonkey();
    try {
      for (let batch = 0; batch < TOTAL / BATCH; batch++) {
        const sends: Promise<Message>[] = [];
        for (let i = batch * BATCH; i < (batch + 1) * BATCH; i++) {
          const participant = participants[i % participants.length] as Participant;
          const text = `${participant.name} #${i}`;
          sentBy.get(participant.name)?.push(text);
          sends.push(participant.send(text));
        }
        await chaos(PLAN[batch] ?? 'cut');
        const stored = await Promise.all(sends);
        expect(stored.map((m) => m.conversationId)).toEqual(sends.map(() => id));
      }
    } finally {
      await stopMonkey();
    }
    expect(proxy.cutCount).toBeGreaterThan(0);

    // Every client ends with the whole conversation: 200 stored messages, seq 1..200, each once.
    for (const p of participants) {
      await waitFor(`${p.name} to hold all ${TOTAL} messages`, () => p.messages().length === TOTAL, {
        timeoutMs: 60_000,
        describe: () => `${p.name} holds ${p.messages().length}, ${p.pending()} pending`,
      });
    }
    const allTexts = [...sentBy.values()].flat().sort();
    for (const p of participants) {
      const list = p.messages();
      expect(list.filter((m) => m.status !== 'sent')).toEqual([]);
      expect(p.pending()).toBe(0);
      expect(list.map((m) => (m.status === 'sent' ? m.seq : -1))).toEqual(
        Array.from({ length: TOTAL }, (_, i) => i + 1),
      );
      expect(new Set(list.map((m) => m.clientMessageId)).size).toBe(TOTAL);
      expect(list.map((m) => m.text).sort()).toEqual(allTexts);
      // Each sender's messages were stored in the order it sent them (queued ones too).
      for (const texts of sentBy.values())
        expect(list.map((m) => m.text).filter((t) => texts.includes(t))).toEqual(texts);
      // The UI was told of each stored message once, and never of an error.
      expect([...p.sentEvents()].sort((a, b) => a - b)).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
      expect(p.errors()).toEqual([]);
    }

    // The server stored each message once (REST pages, not the clients' view), and the agent
    // console was told to reload its lists after the restarts.
    const pages = [await agent.conversations.page(id, 0, 100), await agent.conversations.page(id, 100, 100)];
    expect(pages.flatMap((p) => p.items.map((m) => m.seq))).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    expect(pages[1]?.hasMore).toBe(false);
    const [meta] = (await agent.conversations.list({ leadId: conversation.data?.leadId ?? '' })).items;
    expect(meta).toMatchObject({ id, lastSeq: TOTAL });
    expect(agentEvents.of('reload').length).toBeGreaterThan(0);
  }, 300_000);

  it('clients created while the server is unreachable sign in, connect and deliver once it is back', async () => {
    const { project } = await createProject(server.url);
    const account = await createAgent(server.url, project.id);
    proxy.refuse();

    // A page loaded during an outage (a deploy, a train tunnel): nothing to handle in the UI.
    const visitor = createVisitorClient({ url: proxy.url, projectId: project.id, storage: memoryStorage() });
    clients.push(visitor);
    const agent = createAgentClient({ url: proxy.url, email: account.email, password: account.password });
    clients.push(agent);
    const visitorEvents = new SdkEvents<VisitorClientEvents>((e, l) => visitor.on(e, l), ['error']);
    const agentEvents = new SdkEvents<AgentClientEvents>((e, l) => agent.on(e, l), ['error']);
    const starting = visitor.startConversation({ text: 'written while offline' });
    starting.catch(() => undefined);
    const ready = Promise.allSettled([visitor.ready, agent.ready]);
    // Both kept trying (and neither gave up) while the server could not be reached.
    await waitFor('both clients to try several times', () => proxy.refusedCount >= 6);
    proxy.resume();

    expect((await ready).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    const conversation = await starting;
    // The first message goes through the outbox like any other: pending, then stored.
    await waitFor('the first message to be stored', () => conversation.messages[0]?.status === 'sent');
    expect(conversation.messages.map((m) => [m.status, m.text])).toEqual([['sent', 'written while offline']]);
    const seen = await agent.conversations.history(conversation.id);
    expect(seen.map((m) => m.text)).toEqual(['written while offline']);
    expect(visitorEvents.of('error')).toEqual([]);
    expect(agentEvents.of('error')).toEqual([]);
  }, 120_000);
});
