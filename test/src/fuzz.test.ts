import fc from 'fast-check';
import type { Db } from 'mongodb';
import { COMMAND_SCHEMAS } from '@parley/protocol/schemas';
import { REST_ROUTES } from '@parley/protocol/contract';
import { caseArbitrary, fuzzEntries, leakProblems, runCase, type Entry } from './support/fuzz-cases';
import { forbiddenFor, seedWorld, signInAgain, type World } from './support/fuzz-world';
import { startDatabase, type TestDatabase } from './support/database';
import { startParley, type ParleyProcess } from './support/parley-process';
import { FUZZ_REGRESSIONS } from './fuzz-regressions';

/**
 * Every entry point of the contract fuzzed from its own schema: each command of the command map
 * over a real socket, each REST route with a body or a query over real HTTP, against a server
 * process on its own database. Each case is a valid input drawn from the zod schema
 * (support/zod-arbitrary.ts), a valid one with hostile mutations, or a hostile value outright
 * (support/hostile.ts). Invariants, per case: the answer is a success the contract describes or
 * an error with a protocol code (never INTERNAL or UNAVAILABLE), holds no stack trace or driver
 * message, and nothing of a user other than the caller; the socket stays open; the process stays
 * up and /healthz answers 200. After all cases: the database holds exactly the projects, agents,
 * leads, conversations and messages that successful answers reported, and the server logged no
 * failure.
 *
 * FUZZ_RUNS=n cases per entry point (100 by default); FUZZ_SEED=s replays a run (printed first).
 */

const FILE = 'test/src/fuzz.test.ts';

function runsFromEnv(): number {
  const text = process.env['FUZZ_RUNS'];
  if (text === undefined) return 100;
  const runs = Number(text);
  if (!Number.isInteger(runs) || runs < 1 || runs > 1_000_000)
    throw new Error(`FUZZ_RUNS must be a whole number of cases per entry point: ${text}`);
  return runs;
}

function seedFromEnv(): number {
  const text = process.env['FUZZ_SEED'];
  if (text === undefined) return Math.floor(Math.random() * 2 ** 31);
  const seed = Number(text);
  if (!Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be a whole number: ${text}`);
  return seed;
}

/** Each entry point's own seed, so that one entry's cases do not shift when another is added. */
function entrySeed(seed: number, name: string): number {
  let hash = 0x811c9dc5;
  for (const char of name) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193);
  return (seed ^ hash) | 0;
}

const RUNS = runsFromEnv();
const SEED = seedFromEnv();
const REPLAY = `FUZZ_SEED=${SEED} npx jest ${FILE}`;

const COLLECTIONS = ['projects', 'agents', 'leads', 'conversations', 'messages'] as const;
type Collection = (typeof COLLECTIONS)[number];

async function idsIn(db: Db): Promise<Record<Collection, Set<string>>> {
  const entries = await Promise.all(
    COLLECTIONS.map(async (name) => {
      const docs = await db
        .collection<{ _id: string }>(name)
        .find({}, { projection: { _id: 1 } })
        .toArray();
      return [name, new Set(docs.map((d) => String(d._id)))] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<Collection, Set<string>>;
}

const missingFrom = (from: Set<string>, what: Iterable<string>) => [...what].filter((id) => !from.has(id));

describe('fuzzing every entry point from the contract', () => {
  const entries = fuzzEntries();
  const stats = new Map<string, Map<string, number>>();
  let database: TestDatabase;
  let server: ParleyProcess;
  let world: World;
  let seeded: Record<Collection, Set<string>>;

  beforeAll(async () => {
    process.stdout.write(`[fuzz] seed ${SEED}, ${RUNS} cases per entry point; replay: ${REPLAY}\n`);
    database = await startDatabase();
    server = await startParley({
      env: {
        MONGODB_URI: database.uri,
        // Password routes are fuzzed too: the cheapest cost the server accepts outside production.
        PASSWORD_SCRYPT_N: '1024',
      },
    });
    world = await seedWorld(server.url);
    // Pushes are answers too: neither socket may hear anything of another user.
    for (const [socket, caller] of [
      [world.v1Socket, 'v1'],
      [world.agentSocket, 'agent'],
    ] as const) {
      socket.onAny((event: string, payload: unknown) => {
        const problems = leakProblems(JSON.stringify(payload), forbiddenFor(world, caller));
        if (problems.length > 0) world.pushProblems.push(`${caller} push ${event}: ${problems.join('; ')}`);
      });
    }
    seeded = await idsIn(database.db);
  }, 60_000);

  afterAll(async () => {
    world?.v1Socket.close();
    world?.agentSocket.close();
    await server?.stop();
    server?.cleanup();
    await database?.stop();
    const table = [...stats].map(
      ([name, counts]) =>
        `  ${name}: ${[...counts]
          .sort((a, b) => b[1] - a[1])
          .map(([outcome, n]) => `${outcome} ${n}`)
          .join(', ')}`,
    );
    process.stdout.write(`[fuzz] seed ${SEED}, outcomes:\n${table.join('\n')}\n`);
  });

  /** The process runs and /healthz answers 200. */
  async function aliveProblems(): Promise<string[]> {
    if (server.process.exitCode !== null || server.process.signalCode !== null)
      return [`the server exited (${server.process.exitCode ?? server.process.signalCode})`];
    try {
      const res = await fetch(`${server.url}/healthz`);
      return res.status === 200 ? [] : [`/healthz answered ${res.status}`];
    } catch (error) {
      return [`/healthz did not answer: ${(error as Error).message}`];
    }
  }

  /** A changed password or role of the fuzzing owner signs it out: it signs in again to go on. */
  async function keepOwnerSignedIn(): Promise<void> {
    const res = await fetch(`${server.url}/v1/me`, { headers: { authorization: `Bearer ${world.owner.token}` } });
    if (res.status === 401) await signInAgain(world, 'owner');
  }

  const byName = (name: string): Entry => {
    const entry = entries.find((e) => e.name === name);
    if (!entry) throw new Error(`no entry point ${name}`);
    return entry;
  };

  it('fuzzes every command of the command map and every REST route with a body or a query', () => {
    const commands = Object.entries(COMMAND_SCHEMAS).flatMap(([namespace, table]) =>
      Object.keys(table).map((name) => `${namespace} ${name}`),
    );
    const routes = REST_ROUTES.filter((r) => r.body || r.query).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(entries.map((e) => e.name).sort()).toEqual([...commands, ...routes].sort());
  });

  it.each(FUZZ_REGRESSIONS.map((r) => [`${r.entry}: ${r.why}`, r] as const))('regression %s', async (_name, r) => {
    const { problems } = await runCase(world, byName(r.entry), r.case);
    expect([...problems, ...(await aliveProblems())]).toEqual([]);
  });

  it.each(entries.map((e) => [e.name, e] as const))(
    '%s',
    async (name, entry) => {
      const counts = new Map<string, number>();
      stats.set(name, counts);
      await keepOwnerSignedIn();
      let run = 0;
      const property = fc.asyncProperty(caseArbitrary(entry), async (fuzzCase) => {
        const { outcome, problems } = await runCase(world, entry, fuzzCase);
        counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
        run += 1;
        if (problems.length > 0 || run % 25 === 0) problems.push(...(await aliveProblems()));
        if (problems.length > 0) throw new Error(problems.join('\n'));
      });
      const seed = entrySeed(SEED, name);
      const details = await fc.check(property, { seed, numRuns: RUNS });
      if (details.failed) {
        const regression = { entry: name, why: 'TODO: what was wrong', case: details.counterexample?.[0] };
        throw new Error(
          [
            `${name}: a fuzz case broke an invariant (run seed ${SEED}, entry seed ${seed}; replay: ${REPLAY})`,
            (details.errorInstance as Error | undefined)?.message ?? String(details.errorInstance),
            `Keep it in test/src/fuzz-regressions.ts:`,
            JSON.stringify(regression).slice(0, 4000),
          ].join('\n'),
        );
      }
      expect(await aliveProblems()).toEqual([]);
      // A generator that never gets past validation, or never past the handler's checks, tests little.
      if (RUNS >= 50) {
        expect({ name, succeeded: (counts.get('ok') ?? 0) > 0 }).toEqual({ name, succeeded: true });
        expect({ name, refused: [...counts.keys()].some((k) => k !== 'ok') }).toEqual({ name, refused: true });
      }
    },
    Math.max(60_000, RUNS * 1_000),
  );

  it('heard nothing of another user in any push', () => {
    expect(world.pushProblems).toEqual([]);
  });

  it('leaves the database holding exactly what successful answers reported', async () => {
    const now = await idsIn(database.db);
    const { ledger } = world;
    // Status notes ("Ana resolved the conversation") are the server's own messages, written for a
    // status change (resolve, reopen, pend, snooze, a snooze ending): reported by no answer, each a
    // note (`note:` key) in a conversation the fuzzing made or found.
    const notes = await database.db
      .collection<{ _id: string; conversationId: string; clientMessageId: string }>('messages')
      .find({ 'sender.role': 'system' })
      .toArray();
    const knownConversations = new Set([...seeded.conversations, ...ledger.conversations]);
    expect(
      notes.filter((n) => !n.clientMessageId.startsWith('note:') || !knownConversations.has(n.conversationId)),
    ).toEqual([]);
    for (const note of notes) now.messages.delete(String(note._id));
    // Everything stored was reported by a successful answer (or was there before the fuzzing) …
    const unreported = (name: Collection, reported: Set<string>) =>
      [...now[name]].filter((id) => !seeded[name].has(id) && !reported.has(id));
    const leadsOfSignIns = new Set(
      (
        await database.db
          .collection<{ _id: string; userId: string }>('leads')
          .find(
            // A verified sign-in reports its user, whose claims make its lead; an accepted import
            // reports its id, which the contacts it creates carry.
            { $or: [{ userId: { $in: [...ledger.users] } }, { importId: { $in: [...ledger.imports] } }] },
            { projection: { _id: 1 } },
          )
          .toArray()
      ).map((l) => String(l._id)),
    );
    expect({
      projects: unreported('projects', ledger.projects),
      agents: unreported('agents', ledger.agents),
      // A verified sign-in reports its user, whose claims make its lead.
      leads: unreported('leads', new Set([...ledger.leads, ...leadsOfSignIns])),
      conversations: unreported('conversations', ledger.conversations),
      messages: unreported('messages', ledger.messages),
    }).toEqual({ projects: [], agents: [], leads: [], conversations: [], messages: [] });
    // … and everything a successful answer reported is stored (nothing here erases).
    expect({
      projects: missingFrom(now.projects, ledger.projects),
      agents: missingFrom(now.agents, ledger.agents),
      leads: missingFrom(now.leads, ledger.leads),
      conversations: missingFrom(now.conversations, ledger.conversations),
      messages: missingFrom(now.messages, ledger.messages),
    }).toEqual({ projects: [], agents: [], leads: [], conversations: [], messages: [] });
    // Each conversation counts exactly the messages it holds, numbered without a gap.
    const conversations = await database.db
      .collection<{ _id: string; messageCount: number; lastSeq: number }>('conversations')
      .find({})
      .toArray();
    const broken: string[] = [];
    for (const c of conversations) {
      const seqs = (
        await database.db
          .collection<{ seq: number }>('messages')
          .find({ conversationId: c._id }, { projection: { seq: 1 } })
          .toArray()
      )
        .map((m) => m.seq)
        .sort((a, b) => a - b);
      const gapless = seqs.every((seq, i) => seq === i + 1);
      if (!gapless || c.messageCount !== seqs.length || c.lastSeq !== seqs.length)
        broken.push(`${c._id}: messageCount ${c.messageCount}, lastSeq ${c.lastSeq}, seqs ${seqs.join(',')}`);
    }
    expect(broken).toEqual([]);
  });

  it("keeps each project's teams and capacities in that project", async () => {
    const { db } = database;
    const agents = await db
      .collection<{ _id: string; projectId: string }>('agents')
      .find({}, { projection: { projectId: 1 } })
      .toArray();
    const projectOf = new Map(agents.map((a) => [String(a._id), a.projectId]));
    const teams = await db
      .collection<{ _id: string; projectId: string; memberIds: string[] }>('teams')
      .find({})
      .toArray();
    const routing = await db
      .collection<{ _id: string; projectId: string }>('agent_routing')
      .find({}, { projection: { projectId: 1 } })
      .toArray();
    // Not vacuous: the seeded teams are there, and (with enough cases) the fuzzing set capacities.
    expect(teams.map((t) => String(t._id))).toEqual(expect.arrayContaining(world.teams.slice(0, 2)));
    expect(teams.find((t) => String(t._id) === world.teams[1])?.projectId).toBe(world.projectB.id);
    if (RUNS >= 50) expect(routing.length).toBeGreaterThan(0);
    expect({
      foreignMembers: teams.flatMap((t) =>
        t.memberIds.filter((id) => projectOf.get(id) !== t.projectId).map((id) => `${String(t._id)}: ${id}`),
      ),
      foreignCapacities: routing
        .filter((r) => projectOf.get(String(r._id)) !== r.projectId)
        .map((r) => `${String(r._id)} kept in ${r.projectId}, an agent of ${projectOf.get(String(r._id))}`),
    }).toEqual({ foreignMembers: [], foreignCapacities: [] });
  });

  it('stays up, and logged no failure of its own', async () => {
    expect(await aliveProblems()).toEqual([]);
    const failures = server
      .output()
      .split('\n')
      .filter((line) => /"level":(50|60)/.test(line));
    expect(failures).toEqual([]);
  });
});
