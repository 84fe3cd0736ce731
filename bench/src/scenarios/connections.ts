import { ratio, round } from '../stats';
import type { Target } from '../targets';
import { closeAll, openVisitors, type Context } from './context';

export interface ConnectionPoint {
  count: number;
  heapBytesPerConnection: number;
  rssBytesPerConnection: number;
  heapUsedBytes: number;
  rssBytes: number;
  /** Sign-in (Parley only) + connect of this step's new sockets, per second. */
  connectsPerSec: number;
}

export interface ConnectionStep {
  count: number;
  baseline: ConnectionPoint;
  parley: ConnectionPoint;
  heapRatio: number;
}

export interface ConnectionsResult {
  count: number;
  parleyHeapBytesPerConnection: number;
  baselineHeapBytesPerConnection: number;
  heapRatio: number;
  parleyRssBytesPerConnection: number;
  baselineRssBytesPerConnection: number;
  /** Parley: anonymous sign-in (JWT minted) + authenticated connect. */
  connectsPerSec: number;
  baselineConnectsPerSec: number;
  steps: ConnectionStep[];
}

/** Lets the server finish per-connection work (lastSeenAt writes, timers) before it is weighed. */
const SETTLE_MS = 1500;

async function runTarget(ctx: Context, target: Target): Promise<ConnectionPoint[]> {
  const steps = ctx.options.sizes.connectionSteps;
  ctx.progress.start(`connections ${target.kind}`);
  const before = await target.process.probe();
  const points: ConnectionPoint[] = [];
  let held = 0;
  for (const count of steps) {
    const perWorker = Math.ceil((count - held) / ctx.pool.size);
    ctx.progress.start(`connections ${target.kind} → ${count}`);
    const opened = await openVisitors(ctx, target, perWorker, { agent: false, conversations: false });
    const added = opened.reduce((sum, r) => sum + r.added, 0);
    const elapsed = Math.max(...opened.map((r) => r.elapsedMs));
    held += added;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const after = await target.process.probe();
    const point: ConnectionPoint = {
      count: held,
      heapBytesPerConnection: Math.round((after.heapUsed - before.heapUsed) / held),
      rssBytesPerConnection: Math.round((after.rss - before.rss) / held),
      heapUsedBytes: after.heapUsed,
      rssBytes: after.rss,
      connectsPerSec: round(added / (elapsed / 1000), 0),
    };
    ctx.progress.done(
      `${held} sockets, heap ${(point.heapBytesPerConnection / 1024).toFixed(1)} KiB/conn, ` +
        `RSS ${(point.rssBytesPerConnection / 1024).toFixed(1)} KiB/conn, ${point.connectsPerSec} connects/s`,
    );
    points.push(point);
  }
  await closeAll(ctx);
  return points;
}

/**
 * Idle authenticated visitor sockets, added step by step. Memory is read inside the server process
 * after a full GC (the probe), as the growth of heap and RSS since before the first socket.
 */
export async function connectionsScenario(ctx: Context): Promise<ConnectionsResult> {
  const [baselineTarget, parleyTarget] = ctx.targets as [Target, Target];
  const baseline = await runTarget(ctx, baselineTarget);
  const parley = await runTarget(ctx, parleyTarget);
  const steps: ConnectionStep[] = baseline.map((b, i) => {
    const p = parley[i] as ConnectionPoint;
    return {
      count: p.count,
      baseline: b,
      parley: p,
      heapRatio: ratio(p.heapBytesPerConnection, b.heapBytesPerConnection),
    };
  });
  const last = steps[steps.length - 1] as ConnectionStep;
  // The connect rate over the whole ramp: total sockets over total time, both servers alike.
  const rate = (points: ConnectionPoint[]) =>
    round(
      points[points.length - 1]!.count /
        points.reduce((t, p, i) => t + (p.count - (points[i - 1]?.count ?? 0)) / p.connectsPerSec, 0),
      0,
    );
  return {
    count: last.count,
    parleyHeapBytesPerConnection: last.parley.heapBytesPerConnection,
    baselineHeapBytesPerConnection: last.baseline.heapBytesPerConnection,
    heapRatio: last.heapRatio,
    parleyRssBytesPerConnection: last.parley.rssBytesPerConnection,
    baselineRssBytesPerConnection: last.baseline.rssBytesPerConnection,
    connectsPerSec: rate(parley),
    baselineConnectsPerSec: rate(baseline),
    steps,
  };
}
