import type { LoadResult } from '../load/worker-messages';
import { ratio, round, summarize, type LatencySummary } from '../stats';
import type { Target } from '../targets';
import { closeAll, combine, openVisitors, type Context } from './context';

export interface LatencyRun {
  offeredMsgsPerSec: number;
  /** Delivered to the agent per second over the sending window: below the offer means saturated. */
  achievedMsgsPerSec: number;
  delivery: LatencySummary;
  ack: LatencySummary;
  undelivered: number;
  /** Sends skipped because too many were unacknowledged (the server was saturated). */
  skipped: number;
  failed: number;
}

export interface LatencyLevel {
  offeredMsgsPerSec: number;
  baseline: LatencyRun;
  parley: LatencyRun;
  p99Ratio: number;
}

export interface LatencyResult {
  /** The headline level (1,000 msg/s, or the nearest one run). */
  offeredMsgsPerSec: number;
  baselineP50Ms: number;
  baselineP99Ms: number;
  parleyP50Ms: number;
  parleyP99Ms: number;
  p99Ratio: number;
  conversations: number;
  durationMs: number;
  levels: LatencyLevel[];
}

const DRAIN_MS = 15_000;
/** Per worker: about a second of the highest offered load. */
const MAX_UNACKED = 2000;

async function runTarget(ctx: Context, target: Target): Promise<LatencyRun[]> {
  const { latencyRates, latencyVisitorsPerWorker, latencyMs } = ctx.options.sizes;
  ctx.progress.start(`latency ${target.kind}: connecting`);
  await openVisitors(ctx, target, latencyVisitorsPerWorker, { agent: true, conversations: true });
  ctx.progress.done(`${latencyVisitorsPerWorker * ctx.pool.size} conversations ready`);
  // Warm-up at the lowest rate, not measured.
  await ctx.pool.all(() => ({
    type: 'open-load',
    spec: {
      ratePerSec: (latencyRates[0] ?? 100) / ctx.pool.size,
      durationMs: 1000,
      drainMs: DRAIN_MS,
      maxUnacked: MAX_UNACKED,
    },
  }));
  const runs: LatencyRun[] = [];
  for (const rate of latencyRates) {
    ctx.progress.start(`latency ${target.kind} at ${rate} msg/s offered`);
    const results = await ctx.pool.all<LoadResult>(
      () => ({
        type: 'open-load',
        spec: { ratePerSec: rate / ctx.pool.size, durationMs: latencyMs, drainMs: DRAIN_MS, maxUnacked: MAX_UNACKED },
      }),
      (done, total) =>
        ctx.progress.update(`${Math.round(done / ctx.pool.size / 1000)}/${total / ctx.pool.size / 1000} s`),
    );
    const r = combine(results);
    const run: LatencyRun = {
      offeredMsgsPerSec: rate,
      achievedMsgsPerSec: round(r.deliveredInWindow / (r.elapsedMs / 1000), 0),
      delivery: summarize(r.deliveryLatencies),
      ack: summarize(r.ackLatencies),
      undelivered: r.undelivered,
      skipped: r.skipped,
      failed: r.failed,
    };
    ctx.progress.done(
      `p50 ${run.delivery.p50} ms, p99 ${run.delivery.p99} ms, max ${run.delivery.max} ms, ` +
        `${run.achievedMsgsPerSec} msg/s delivered in window` +
        (run.undelivered ? `, ${run.undelivered} not delivered after ${DRAIN_MS / 1000} s` : '') +
        (run.skipped ? `, ${run.skipped} sends skipped (saturated)` : ''),
    );
    runs.push(run);
  }
  await closeAll(ctx);
  return runs;
}

/**
 * Open loop at fixed offered loads: visitor send → agent receive, both sockets in the same worker
 * process, so one monotonic clock times both ends.
 */
export async function latencyScenario(ctx: Context): Promise<LatencyResult> {
  const [baselineTarget, parleyTarget] = ctx.targets as [Target, Target];
  const baseline = await runTarget(ctx, baselineTarget);
  const parley = await runTarget(ctx, parleyTarget);
  const levels: LatencyLevel[] = baseline.map((b, i) => {
    const p = parley[i] as LatencyRun;
    return {
      offeredMsgsPerSec: b.offeredMsgsPerSec,
      baseline: b,
      parley: p,
      p99Ratio: ratio(p.delivery.p99, b.delivery.p99),
    };
  });
  const headline = levels.reduce((best, level) =>
    Math.abs(level.offeredMsgsPerSec - 1000) < Math.abs(best.offeredMsgsPerSec - 1000) ? level : best,
  );
  return {
    offeredMsgsPerSec: headline.offeredMsgsPerSec,
    baselineP50Ms: headline.baseline.delivery.p50,
    baselineP99Ms: headline.baseline.delivery.p99,
    parleyP50Ms: headline.parley.delivery.p50,
    parleyP99Ms: headline.parley.delivery.p99,
    p99Ratio: headline.p99Ratio,
    conversations: ctx.options.sizes.latencyVisitorsPerWorker * ctx.pool.size,
    durationMs: ctx.options.sizes.latencyMs,
    levels,
  };
}
