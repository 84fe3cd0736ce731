import type { WorkerPool } from '../load/worker-pool';
import type { LoadResult, OpenResult, OpenSpec } from '../load/worker-messages';
import type { Options } from '../options';
import type { Database } from '../processes/database';
import type { Progress } from '../progress';
import type { Target } from '../targets';

/** Sign-ins and connects in flight at once per worker. */
const OPEN_CONCURRENCY = 50;

export interface Context {
  pool: WorkerPool;
  options: Options;
  progress: Progress;
  /** Baseline first, then Parley: each scenario runs both in the same run, in that order. */
  targets: Target[];
  database: Database;
}

/** Adds visitors on every worker, each in its target group; progress summed across workers. */
export async function openVisitors(
  ctx: Context,
  target: Target,
  perWorker: number,
  how: { agent: boolean; conversations: boolean },
): Promise<OpenResult[]> {
  const results = await ctx.pool.all<OpenResult>(
    (i) => {
      const group = target.groups[i];
      if (!group) throw new Error(`no group for worker ${i}`);
      const spec: OpenSpec = {
        url: target.url,
        kind: target.kind,
        projectId: group.projectId,
        visitors: perWorker,
        startConversations: how.conversations,
        concurrency: OPEN_CONCURRENCY,
        ...(how.agent ? { agentToken: group.agentToken } : {}),
      };
      return { type: 'open', spec };
    },
    (done, total) => ctx.progress.update(`${done}/${total} visitors connected`),
  );
  const failed = results.reduce((sum, r) => sum + r.failed, 0);
  if (failed > 0) {
    const first = results.find((r) => r.firstError)?.firstError;
    throw new Error(`${target.kind}: ${failed} visitors failed to connect (${first})`);
  }
  return results;
}

export async function closeAll(ctx: Context): Promise<void> {
  await ctx.pool.all(() => ({ type: 'close' }));
}

/** Sums per-worker load results; latency samples are pooled (each worker measured its own clock). */
export function combine(results: LoadResult[]): LoadResult {
  const total: LoadResult = {
    elapsedMs: Math.max(...results.map((r) => r.elapsedMs)),
    sent: 0,
    acked: 0,
    failed: 0,
    ackedInWindow: 0,
    delivered: 0,
    deliveredInWindow: 0,
    deliveryLatencies: [],
    ackLatencies: [],
    undelivered: 0,
    skipped: 0,
  };
  for (const r of results) {
    total.sent += r.sent;
    total.acked += r.acked;
    total.failed += r.failed;
    total.ackedInWindow += r.ackedInWindow;
    total.delivered += r.delivered;
    total.deliveredInWindow += r.deliveredInWindow;
    total.undelivered += r.undelivered;
    total.skipped += r.skipped;
    for (const x of r.deliveryLatencies) total.deliveryLatencies.push(x);
    for (const x of r.ackLatencies) total.ackLatencies.push(x);
    if (r.firstError && !total.firstError) total.firstError = r.firstError;
  }
  return total;
}
