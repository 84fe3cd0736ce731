import { performance } from 'node:perf_hooks';
import { round, summarize, type LatencySummary } from '../stats';
import type { Target } from '../targets';
import type { Context } from './context';
import { leadProfile, seedLeads } from './lead-seed';

export interface SearchStep {
  leads: number;
  email: LatencySummary;
  prefix: LatencySummary;
  /** Mean `total` the prefix queries answered: the work a count over the matches does. */
  prefixMeanMatches: number;
  seedMsPerThousand: number;
}

export interface SearchResult {
  leads: number;
  emailP50Ms: number;
  emailP99Ms: number;
  prefixP50Ms: number;
  prefixP99Ms: number;
  steps: SearchStep[];
}

/** A pseudo-random but repeatable sequence, so every run asks the same questions. */
function* indexes(seed: number, below: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1103515245 + 12345) % 2147483648;
    yield x % below;
  }
}

async function timeQueries(
  target: Target,
  queries: string[],
  onProgress: (done: number) => void,
): Promise<{ latency: LatencySummary; meanTotal: number }> {
  const group = target.groups[0];
  if (!group) throw new Error('no project');
  const samples: number[] = [];
  let totals = 0;
  for (const [i, query] of queries.entries()) {
    const t0 = performance.now();
    const res = await fetch(`${target.url}/v1/projects/${group.projectId}/leads?${query}&limit=20`, {
      headers: { authorization: `Bearer ${group.agentToken}` },
    });
    const body = (await res.json()) as { total?: number };
    samples.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`search ${query}: ${res.status} ${JSON.stringify(body)}`);
    totals += body.total ?? 0;
    if (i % 20 === 0) onProgress(i);
  }
  return { latency: summarize(samples), meanTotal: round(totals / queries.length, 1) };
}

/**
 * Contact search over REST, as an agent's console does it: exact email and a 4-letter prefix of a
 * last name (`q`), one request at a time, at growing numbers of leads in the project. Parley only:
 * the baseline stores nothing to search.
 */
export async function searchScenario(ctx: Context): Promise<SearchResult> {
  const parley = ctx.targets[1] as Target;
  const projectId = parley.groups[0]?.projectId ?? '';
  const steps: SearchStep[] = [];
  let seeded = 0;
  for (const leads of ctx.options.sizes.searchSteps) {
    ctx.progress.start(`search: seeding ${leads} leads`);
    const t0 = performance.now();
    await seedLeads(ctx.database.uri, projectId, seeded, leads, (done) => ctx.progress.update(`${done}/${leads}`));
    const seedMs = performance.now() - t0;
    const added = leads - seeded;
    seeded = leads;
    ctx.progress.done(`${added} leads in ${(seedMs / 1000).toFixed(1)} s`);

    const n = ctx.options.sizes.searchQueries;
    const pick = indexes(leads, leads);
    const emails = Array.from(
      { length: n },
      () => `email=${encodeURIComponent(leadProfile(pick.next().value as number).email)}`,
    );
    const prefixes = Array.from(
      { length: n },
      () => `q=${leadProfile(pick.next().value as number).lastname.slice(0, 4)}`,
    );
    ctx.progress.start(`search at ${leads} leads: ${n} by email, ${n} by prefix`);
    const email = await timeQueries(parley, emails, (d) => ctx.progress.update(`email ${d}/${n}`));
    const prefix = await timeQueries(parley, prefixes, (d) => ctx.progress.update(`prefix ${d}/${n}`));
    const step: SearchStep = {
      leads,
      email: email.latency,
      prefix: prefix.latency,
      prefixMeanMatches: prefix.meanTotal,
      seedMsPerThousand: round((seedMs / added) * 1000, 0),
    };
    ctx.progress.done(
      `email p50 ${step.email.p50} ms p99 ${step.email.p99} ms; prefix p50 ${step.prefix.p50} ms ` +
        `p99 ${step.prefix.p99} ms (${step.prefixMeanMatches} matches on average)`,
    );
    steps.push(step);
  }
  const target100k = steps.find((s) => s.leads === 100_000) ?? (steps[steps.length - 1] as SearchStep);
  return {
    leads: target100k.leads,
    emailP50Ms: target100k.email.p50,
    emailP99Ms: target100k.email.p99,
    prefixP50Ms: target100k.prefix.p50,
    prefixP99Ms: target100k.prefix.p99,
    steps,
  };
}
