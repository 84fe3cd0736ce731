import { performance } from 'node:perf_hooks';
import { MongoClient, ObjectId } from 'mongodb';
import { summarize, type LatencySummary } from '../stats';
import type { Target } from '../targets';
import type { Context } from './context';
import { leadProfile, seedLeads } from './lead-seed';

export interface ContactsResult {
  leads: number;
  properties: number;
  /** A filter an index serves (exact email). */
  indexed: LatencySummary;
  /** A filter on two properties (served by the `{ projectId, propIndex }` index). */
  property: LatencySummary;
  /** The worse p99 of the two: the figure the target names. */
  filterP99Ms: number;
  /** How long the filters waited after the seeding for the database's journal compaction to end. */
  settleMs: number;
}

const PROPERTIES = 10;

/**
 * Ten typed properties per lead: their definitions, then the leads in the server's stored shape
 * (typed values, `emailDomain`, search keys, `propIndex`) by the search scenario's seeding. Then
 * `POST …/leads/search` is timed one request at a time: a filter on an indexed field and one on a
 * property. Parley only.
 */
async function seed(uri: string, projectId: string, count: number, onProgress: (done: number) => void): Promise<void> {
  const client = new MongoClient(uri);
  await client.connect();
  try {
    const now = new Date();
    await client
      .db()
      .collection<{ _id: string }>('properties')
      .insertMany(
        Array.from({ length: PROPERTIES }, (_, p) => ({
          _id: new ObjectId().toHexString(),
          projectId,
          key: `p${p}`,
          label: `Property ${p}`,
          type: p % 2 === 0 ? 'number' : 'text',
          visitorWritable: false,
          visibleToVisitor: false,
          createdAt: now,
          updatedAt: now,
        })),
      );
  } finally {
    await client.close();
  }
  await seedLeads(uri, projectId, 0, count, onProgress, (i) => {
    const attributes: Record<string, string | number> = {};
    for (let p = 0; p < PROPERTIES; p++) attributes[`p${p}`] = p % 2 === 0 ? (i * (p + 1)) % 1000 : `v${i % 50}`;
    return attributes;
  });
}

/**
 * Waits (at most `limitMs`) until the bench's own embedded-mongo has no journal compaction running,
 * and returns how long that took. Seeding 100k leads writes a journal large enough to start one
 * right at the end of the seeding, and while it runs (tens of seconds on this machine, its
 * allocations and GC on the database's one thread) every command is slower: without the wait the
 * filters were timed in that window in some runs and not in others (property p99 35 ms to 570 ms
 * with the same code). A deployment does not load 100k contacts in a minute before searching them.
 */
async function settled(ctx: Context, limitMs = 180_000): Promise<number> {
  const db = ctx.database.process;
  if (!db) return 0;
  const started = Date.now();
  const running = () => {
    const output = db.output();
    const begun = output.match(/compacting the journal/g)?.length ?? 0;
    const ended =
      (output.match(/compacted the journal/g)?.length ?? 0) + (output.match(/compaction into .* failed/g)?.length ?? 0);
    return begun > ended;
  };
  while (running() && Date.now() - started < limitMs) await new Promise((resolve) => setTimeout(resolve, 250));
  return Date.now() - started;
}

async function time(target: Target, projectId: string, token: string, filters: unknown[]): Promise<LatencySummary> {
  const samples: number[] = [];
  for (const filter of filters) {
    const t0 = performance.now();
    const res = await fetch(`${target.url}/v1/projects/${projectId}/leads/search`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ filter, limit: 20 }),
    });
    const body = (await res.json()) as unknown;
    samples.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`contacts search: ${res.status} ${JSON.stringify(body)}`);
  }
  return summarize(samples);
}

export async function contactsScenario(ctx: Context): Promise<ContactsResult> {
  const parley = ctx.targets[1] as Target;
  // Its own project (the search scenario's leads stay apart): the second group when there is one.
  const group = parley.groups[1] ?? parley.groups[0];
  if (!group) throw new Error('no project');
  const count = ctx.options.sizes.contactsLeads;
  ctx.progress.start(`contacts: seeding ${count} leads with ${PROPERTIES} properties`);
  await seed(ctx.database.uri, group.projectId, count, (done) => ctx.progress.update(`${done}/${count}`));
  ctx.progress.done(`${count} leads`);
  ctx.progress.start('contacts: waiting for the database to finish compacting its journal');
  const waitedMs = await settled(ctx);
  ctx.progress.done(`${waitedMs} ms`);
  const n = ctx.options.sizes.searchQueries;
  ctx.progress.start(`contacts at ${count} leads: ${n} indexed filters, ${n} property filters`);
  const indexed = await time(
    parley,
    group.projectId,
    group.agentToken,
    Array.from({ length: n }, (_, i) => ({ field: 'email', op: 'eq', value: leadProfile((i * 7919) % count).email })),
  );
  const property = await time(
    parley,
    group.projectId,
    group.agentToken,
    Array.from({ length: n }, (_, i) => ({
      and: [
        { field: 'properties.p0', op: 'eq', value: i % 1000 },
        { field: 'properties.p1', op: 'eq', value: `v${i % 50}` },
      ],
    })),
  );
  const result: ContactsResult = {
    leads: count,
    properties: PROPERTIES,
    indexed,
    property,
    filterP99Ms: Math.max(indexed.p99, property.p99),
    settleMs: waitedMs,
  };
  ctx.progress.done(`indexed p99 ${indexed.p99} ms; property p99 ${property.p99} ms`);
  return result;
}
