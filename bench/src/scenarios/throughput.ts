import type { LoadResult } from '../load/worker-messages';
import { ratio, round, summarize, type LatencySummary } from '../stats';
import type { Target } from '../targets';
import { closeAll, combine, openVisitors, type Context } from './context';

export interface ThroughputRun {
  conversations: number;
  window: number;
  /** Stored (Parley) and acknowledged messages per second. */
  ackedPerSec: number;
  /** `message.created` received by the agents, per second. */
  deliveredPerSec: number;
  ackLatency: LatencySummary;
  deliveryLatency: LatencySummary;
  /** CPU time of the server process per 1,000 acknowledged messages (user + system). */
  serverCpuMsPer1k: number;
  /** The same for the database process, when the bench runs it (embedded-mongo). */
  databaseCpuMsPer1k?: number;
  failed: number;
  firstError?: string;
}

export interface ThroughputStep {
  conversations: number;
  baseline: ThroughputRun;
  parley: ThroughputRun;
  ratio: number;
}

export interface ThroughputResult {
  baselineMsgsPerSec: number;
  parleyMsgsPerSec: number;
  ratio: number;
  baselineDeliveredPerSec: number;
  parleyDeliveredPerSec: number;
  deliveredRatio: number;
  conversations: number;
  window: number;
  durationMs: number;
  steps: ThroughputStep[];
}

const WARMUP_MS = 1000;

export async function runOne(ctx: Context, target: Target, perWorker: number): Promise<ThroughputRun> {
  const { throughputWindow: window, throughputMs } = ctx.options.sizes;
  const conversations = perWorker * ctx.pool.size;
  ctx.progress.start(`throughput ${target.kind}, ${conversations} conversations, window ${window}`);
  await openVisitors(ctx, target, perWorker, { agent: true, conversations: true });
  // A short warm-up: JIT, connection pools and caches settle before the measured window.
  await ctx.pool.all<LoadResult>(() => ({ type: 'closed-load', spec: { durationMs: WARMUP_MS, window } }));
  const cpu = async () => {
    const [server, database] = await Promise.all([
      target.process.probe(),
      target.kind === 'parley' ? ctx.database.process?.probe() : undefined,
    ]);
    return {
      server: server.cpuUserMs + server.cpuSystemMs,
      ...(database ? { database: database.cpuUserMs + database.cpuSystemMs } : {}),
    };
  };
  const cpuBefore = await cpu();
  const results = await ctx.pool.all<LoadResult>(
    () => ({ type: 'closed-load', spec: { durationMs: throughputMs, window } }),
    (done, total) =>
      ctx.progress.update(`${Math.round(done / ctx.pool.size / 1000)}/${total / ctx.pool.size / 1000} s`),
  );
  const cpuAfter = await cpu();
  await closeAll(ctx);
  const r = combine(results);
  const per1k = (before: number | undefined, after: number | undefined) =>
    before === undefined || after === undefined
      ? undefined
      : round(((after - before) / Math.max(1, r.acked)) * 1000, 0);
  const databaseCpu = per1k(cpuBefore.database, cpuAfter.database);
  const seconds = r.elapsedMs / 1000;
  const run: ThroughputRun = {
    conversations,
    window,
    ackedPerSec: round(r.ackedInWindow / seconds, 0),
    deliveredPerSec: round(r.deliveredInWindow / seconds, 0),
    ackLatency: summarize(r.ackLatencies),
    deliveryLatency: summarize(r.deliveryLatencies),
    serverCpuMsPer1k: per1k(cpuBefore.server, cpuAfter.server) ?? Number.NaN,
    ...(databaseCpu !== undefined ? { databaseCpuMsPer1k: databaseCpu } : {}),
    failed: r.failed,
    ...(r.firstError ? { firstError: r.firstError } : {}),
  };
  ctx.progress.done(
    `${run.ackedPerSec} msg/s acked, ${run.deliveredPerSec} msg/s delivered, ack p99 ${run.ackLatency.p99} ms, ` +
      `CPU ${run.serverCpuMsPer1k} ms per 1k msgs` +
      (run.databaseCpuMsPer1k !== undefined ? ` (+ database ${run.databaseCpuMsPer1k})` : '') +
      (run.failed ? `, ${run.failed} failed (${run.firstError})` : ''),
  );
  return run;
}

/**
 * Closed loop at growing numbers of concurrent conversations: every visitor keeps `window` messages
 * in flight. Parley stores each message before acknowledging it; the baseline only relays.
 */
export async function throughputScenario(ctx: Context): Promise<ThroughputResult> {
  const [baselineTarget, parleyTarget] = ctx.targets as [Target, Target];
  const steps: ThroughputStep[] = [];
  for (const perWorker of ctx.options.sizes.throughputVisitorsPerWorker) {
    const baseline = await runOne(ctx, baselineTarget, perWorker);
    const parley = await runOne(ctx, parleyTarget, perWorker);
    steps.push({
      conversations: baseline.conversations,
      baseline,
      parley,
      ratio: ratio(parley.ackedPerSec, baseline.ackedPerSec),
    });
  }
  const headline = steps[Math.min(ctx.options.sizes.throughputHeadline, steps.length - 1)] as ThroughputStep;
  return {
    baselineMsgsPerSec: headline.baseline.ackedPerSec,
    parleyMsgsPerSec: headline.parley.ackedPerSec,
    ratio: headline.ratio,
    baselineDeliveredPerSec: headline.baseline.deliveredPerSec,
    parleyDeliveredPerSec: headline.parley.deliveredPerSec,
    deliveredRatio: ratio(headline.parley.deliveredPerSec, headline.baseline.deliveredPerSec),
    conversations: headline.conversations,
    window: ctx.options.sizes.throughputWindow,
    durationMs: ctx.options.sizes.throughputMs,
    steps,
  };
}
