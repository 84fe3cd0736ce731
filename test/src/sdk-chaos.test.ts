import type { MessagePage } from '@parley/protocol';
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
import { cpuHogFromEnv, type CpuHog } from './support/cpu-hog';
import { createAgent, createProject } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';
import { SdkEvents } from './support/sdk-events';
import { chaosSeeds, seededRandom, withSeed, type SeededRandom } from './support/seeded-random';
import { waitFor } from './support/wait';

const TOTAL = 200;
const BATCH = 20;

/**
 * What happens to the network while a batch of 20 sends is in flight. `kill` is a crash (SIGKILL,
 * nothing flushed), `term` a graceful restart (the server says goodbye to every socket), both on
 * the same data directory; every restart comes back on a new port behind the same proxy.
 */
type Step = 'cut' | 'cut x3' | 'kill' | 'term';

/**
 * Seeds that once failed, replayed by every run of the suite. None yet: the duplicate of issue 18
 * (a message renumbered after clients had read it) did not recur in the seeded runs made before
 * its fix; message-seq-stability.test.ts forces that interleaving deterministically instead.
 */
const REGRESSION_SEEDS: number[] = [];

/** `CHAOS_SEED`, `CHAOS_RUNS`, `CHAOS_CPU_HOG`: see the README's "Chaos tests". */
const SEEDS = chaosSeeds(REGRESSION_SEEDS);

/**
 * One run's time limit (`CHAOS_RUN_TIMEOUT_MS`, default 5 min). A run still going 15 s before it
 * fails with a report of where it stands (the step, what each client holds and has pending, the
 * server's view), rather than with jest's bare timeout: a stuck send and a starved machine look
 * alike from outside.
 */
const RUN_TIMEOUT_MS = Number(process.env.CHAOS_RUN_TIMEOUT_MS) || 300_000;
const REPORT_BEFORE_TIMEOUT_MS = 15_000;

/** Each batch's step, drawn from the seed; every run has at least one crash and one graceful restart. */
function planFor(random: SeededRandom): Step[] {
  const plan = Array.from({ length: TOTAL / BATCH }, () =>
    random.pick<Step>(['cut', 'cut', 'cut x3', 'cut x3', 'kill', 'term']),
  );
  if (!plan.includes('kill')) plan[random.int(0, plan.length - 1)] = 'kill';
  if (!plan.includes('term')) {
    const others = plan.flatMap((step, i) => (step === 'kill' ? [] : [i]));
    plan[random.pick(others)] = 'term';
  }
  return plan;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Participant {
  name: string;
  send(text: string): Promise<Message>;
  messages(): ClientMessage[];
  pending(): number;
  sentEvents(): number[];
  errors(): unknown[];
}

/** A stored or client-side message, as a failure prints it. */
interface Shown {
  seq?: number;
  clientMessageId: string;
  text: string;
  sender: { role: string; id: string };
  status?: string;
}

const show = (m: Shown) =>
  `  seq=${m.seq ?? '-'} clientMessageId=${m.clientMessageId} text=${JSON.stringify(m.text)} sender=${m.sender.role}:${m.sender.id}${m.status && m.status !== 'sent' ? ` status=${m.status}` : ''}`;

/**
 * What is wrong with a list that should hold every sent text once, at seqs 1..TOTAL: the entries
 * sharing a clientMessageId, a text or a seq, and the texts missing; empty when nothing is.
 */
function offending(list: Shown[], allTexts: string[]): string[] {
  const problems: string[] = [];
  const repeated = (key: (m: Shown) => string | number | undefined, what: string) => {
    const groups = new Map<string | number | undefined, Shown[]>();
    for (const m of list) groups.set(key(m), [...(groups.get(key(m)) ?? []), m]);
    for (const [value, group] of groups)
      if (group.length > 1) problems.push(`${what} ${String(value)} ${group.length} times:`, ...group.map(show));
  };
  repeated((m) => m.clientMessageId, 'clientMessageId');
  repeated((m) => m.text, 'text');
  repeated((m) => m.seq, 'seq');
  const held = new Set(list.map((m) => m.text));
  const missing = allTexts.filter((t) => !held.has(t));
  if (missing.length > 0) problems.push(`texts missing: ${missing.join(', ')}`);
  const seqs = list.flatMap((m) => (m.seq === undefined ? [] : [m.seq]));
  const gaps = Array.from({ length: TOTAL }, (_, i) => i + 1).filter((s) => !seqs.includes(s));
  if (gaps.length > 0) problems.push(`seqs missing: ${gaps.join(', ')}`);
  return problems;
}

describe('SDK delivery under network chaos', () => {
  let first: ParleyProcess;
  let server: ParleyProcess;
  let proxy: ChaosProxy;
  let hog: CpuHog | undefined;
  const clients: { close(): void }[] = [];
  /** A run that failed mid-restart leaves the server down; the next run (a loop) starts it again. */
  let down = false;

  beforeAll(async () => {
    hog = cpuHogFromEnv();
    // On its embedded database in DATA_DIR (or the same MONGODB_URI database), so a restart keeps the data.
    first = await startParley();
    server = first;
    proxy = await startChaosProxy(server.port);
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(async () => {
    clients.splice(0).forEach((c) => c.close());
    await proxy?.close();
    await server?.stop();
    first?.cleanup();
    await hog?.stop();
  });

  /**
   * Restarts the server on the same data and points the proxy at its new port. A run that already
   * failed (past its time limit, still going in the background) leaves the server down for the next
   * run to start: two starts on one data directory would make the next run fail too.
   */
  async function restart(how: 'kill' | 'term', live: () => boolean): Promise<void> {
    if (how === 'kill') await server.kill();
    else await server.stop();
    down = true;
    // Sends made while the server is down wait in the clients' outboxes.
    await pause(200);
    if (live()) await startAgain();
  }

  /**
   * A start on the same data. Given longer than a first start: a loaded machine (CHAOS_CPU_HOG next
   * to other work) can take more than 20 s to replay the data and listen.
   */
  async function startAgain(): Promise<void> {
    server = await startParley({ dataDir: first.dataDir, env: first.env, timeoutMs: 60_000 });
    proxy.retarget(server.port);
    down = false;
  }

  /** Cuts every connection through the proxy at seeded random moments until stopped. */
  function chaosMonkey(random: SeededRandom): () => Promise<void> {
    let running = true;
    const loop = (async () => {
      while (running) {
        await pause(random.int(300, 1500));
        if (running) proxy.cutAll();
      }
    })();
    return async () => {
      running = false;
      await loop;
    };
  }

  async function chaos(step: Step, random: SeededRandom, live: () => boolean): Promise<void> {
    await pause(random.int(0, 40));
    if (step === 'kill' || step === 'term') return restart(step, live);
    for (let i = 0; i < (step === 'cut x3' ? 3 : 1); i++) {
      proxy.cutAll();
      await pause(random.int(0, 40));
    }
  }

  /** The conversation as the server stores it: REST pages straight from the server, not through the proxy. */
  async function storedMessages(projectId: string, conversationId: string, token: string): Promise<Message[]> {
    const all: Message[] = [];
    for (let page = 0; page < 10; page++) {
      const res = await client(server.url).get<MessagePage>(
        `/v1/projects/${projectId}/conversations/${conversationId}/messages?afterSeq=${all.at(-1)?.seq ?? 0}&limit=200`,
        { token },
      );
      if (res.status !== 200) throw new Error(`history over REST: ${res.status} ${res.text}`);
      all.push(...res.body.items);
      if (!res.body.hasMore) break;
    }
    return all;
  }

  it.each(SEEDS)(
    'two visitor tabs and an agent exchange 200 messages through cuts and restarts: all there, in order, once (seed %i)',
    (seed) => withSeed('test/src/sdk-chaos.test.ts', seed, (random) => exchange(random)),
    RUN_TIMEOUT_MS,
  );

  async function exchange(random: SeededRandom): Promise<void> {
    // Separate streams for the plan, the steps and the monkey, so that how the two loops interleave
    // in time does not change what either of them draws.
    const plan = planFor(random);
    const stepRandom = seededRandom(random.int(0, 2 ** 31));
    const monkeyRandom = seededRandom(random.int(0, 2 ** 31));
    process.stdout.write(`[chaos] plan: ${plan.join(', ')}\n`);
    if (down) await startAgain();

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
    const sentBy = new Map<string, string[]>(participants.map((p) => [p.name, []]));
    const allTexts = () => [...sentBy.values()].flat().sort();
    let phase = 'sending';
    /** Set when the run has failed: a body still running in the background stops at its next step. */
    let abandoned = false;
    let watchdog: NodeJS.Timeout | undefined;
    const overdue = new Promise<never>((_, reject) => {
      watchdog = setTimeout(
        () =>
          reject(new Error(`the run was still at "${phase}" after ${RUN_TIMEOUT_MS - REPORT_BEFORE_TIMEOUT_MS} ms`)),
        RUN_TIMEOUT_MS - REPORT_BEFORE_TIMEOUT_MS,
      );
    });

    try {
      await Promise.race([overdue, run()]);
    } catch (error) {
      abandoned = true;
      // Who got it wrong: the server's store (read first, straight from the server), or a client's merge.
      const report: string[] = [];
      try {
        const stored = await storedMessages(project.id, id, account.token);
        const problems = offending(stored, allTexts());
        report.push(`server stores ${stored.length} messages${problems.length ? ':' : ', each once'}`, ...problems);
      } catch (readError) {
        report.push(`server view unavailable: ${String(readError)}`);
      }
      for (const p of participants) {
        const problems = offending(p.messages(), allTexts());
        report.push(
          `${p.name} holds ${p.messages().length}, ${p.pending()} pending${problems.length ? ':' : ', each once'}`,
          ...problems,
        );
      }
      if (error instanceof Error) error.message = `${error.message}\n\n${report.join('\n')}`;
      throw error;
    } finally {
      clearTimeout(watchdog);
    }

    async function run(): Promise<void> {
      // Each batch goes out at once (most of it queued in the outboxes) and the network misbehaves
      // while it is in flight; every send must still resolve with its stored message.
      // On top of the plan, connections are also cut at random moments all along.
      const stopMonkey = chaosMonkey(monkeyRandom);
      try {
        for (const [batch, step] of plan.entries()) {
          phase = `batch ${batch + 1} of ${plan.length} (${step})`;
          const sends: Promise<Message>[] = [];
          for (let i = batch * BATCH; i < (batch + 1) * BATCH; i++) {
            const participant = participants[i % participants.length] as Participant;
            const text = `${participant.name} #${i}`;
            sentBy.get(participant.name)?.push(text);
            sends.push(participant.send(text));
          }
          if (abandoned) return;
          await chaos(step, stepRandom, () => !abandoned);
          const stored = await Promise.all(sends);
          expect(stored.map((m) => m.conversationId)).toEqual(sends.map(() => id));
        }
      } finally {
        await stopMonkey();
      }
      expect(proxy.cutCount).toBeGreaterThan(0);

      // The server first: it stored each message once (REST pages, not the clients' view).
      phase = 'checking the server';
      const stored = await storedMessages(project.id, id, account.token);
      expect(offending(stored, allTexts())).toEqual([]);
      expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
      const [meta] = (await agent.conversations.list({ leadId: conversation.data?.leadId ?? '' })).items;
      expect(meta).toMatchObject({ id, lastSeq: TOTAL });

      // Every client ends with the whole conversation: 200 stored messages, seq 1..200, each once,
      // each at the seq the server stored it at.
      phase = 'waiting for the clients to catch up';
      for (const p of participants) {
        await waitFor(`${p.name} to hold all ${TOTAL} messages`, () => p.messages().length === TOTAL, {
          timeoutMs: 60_000,
          describe: () => `${p.name} holds ${p.messages().length}, ${p.pending()} pending`,
        });
      }
      const storedIds = stored.map((m) => `${m.seq} ${m.clientMessageId}`);
      for (const p of participants) {
        const list = p.messages();
        expect(list.filter((m) => m.status !== 'sent')).toEqual([]);
        expect(p.pending()).toBe(0);
        expect(list.map((m) => (m.status === 'sent' ? `${m.seq} ${m.clientMessageId}` : '-'))).toEqual(storedIds);
        // Each sender's messages were stored in the order it sent them (queued ones too).
        for (const texts of sentBy.values())
          expect(list.map((m) => m.text).filter((t) => texts.includes(t))).toEqual(texts);
        // The UI was told of each stored message once, and never of an error.
        expect([...p.sentEvents()].sort((a, b) => a - b)).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
        expect(p.errors()).toEqual([]);
      }
      // The agent console was told to reload its lists after the restarts.
      expect(agentEvents.of('reload').length).toBeGreaterThan(0);
    }
  }

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
