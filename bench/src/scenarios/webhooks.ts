import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ratio, round, summarize, type LatencySummary } from '../stats';
import type { Target } from '../targets';
import type { Context } from './context';
import { runOne, type ThroughputRun } from './throughput';

export interface WebhooksResult {
  conversations: number;
  /** Messages stored and acknowledged per second, without and with a `message.created` webhook (means of two windows each). */
  withoutMsgsPerSec: number;
  withMsgsPerSec: number;
  /** Each window's msg/s, in the order they ran: without[0], with[0], with[1], without[1]. */
  windows: { without: number[]; with: number[] };
  /** With over without (the issue asks for ≥ 0.9). */
  ratio: number;
  /** Deliveries the receiver got per second, from the first to the last of the window's events. */
  deliveredPerSec: number;
  /** Event (its `timestamp`, when the message was stored) to the receiver having it. */
  lagMs: LatencySummary;
  p99LagMs: number;
  /** Events of the run the receiver got, and how long it took after the window to get them all. */
  delivered: number;
  drainMs: number;
  /** The first window of each side, in full. */
  without: ThroughputRun;
  with: ThroughputRun;
}

/** A receiver in the bench process: answers 204 at once, notes each event's lag. */
class Receiver {
  readonly lags: number[] = [];
  readonly times: number[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const now = Date.now();
        try {
          const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { timestamp: string };
          this.lags.push(now - Date.parse(event.timestamp));
          this.times.push(now);
        } catch {
          // not counted
        }
        res.writeHead(204).end();
      });
    });
    server.keepAliveTimeout = 10_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

async function api<T>(url: string, method: string, path: string, token: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/**
 * Message throughput without and with a `message.created` webhook on every project (to a receiver
 * on this machine), in the same run and in the order without, with, with, without (ABBA): the
 * windows run on a database that grows from one to the next, and a later window is slower for
 * that alone, so each side gets one earlier and one later window and the ratio compares their
 * means. Delivery is off the message path, so the with windows should stay within 10 % of the
 * others. The deliveries of the with windows drain before the last window starts (so that it does
 * not pay for them), and give how fast they went out and their lag from event to receiver.
 */
export async function webhooksScenario(ctx: Context, adminToken: string): Promise<WebhooksResult> {
  const parley = ctx.targets.find((t) => t.kind === 'parley') as Target;
  const perWorker = ctx.options.sizes.webhookVisitorsPerWorker;
  const sizes = { ...ctx.options.sizes, throughputMs: ctx.options.sizes.webhookMs };
  const measured = { ...ctx, options: { ...ctx.options, sizes } };

  const firstWithout = await runOne(measured, parley, perWorker);

  const receiver = new Receiver();
  await receiver.start();
  const webhooks: { projectId: string; id: string }[] = [];
  const removeWebhooks = async () => {
    for (const { projectId, id } of webhooks.splice(0))
      await api(parley.url, 'DELETE', `/v1/projects/${projectId}/webhooks/${id}`, adminToken).catch(() => undefined);
  };
  try {
    for (const group of parley.groups) {
      const { webhook } = await api<{ webhook: { id: string } }>(
        parley.url,
        'POST',
        `/v1/projects/${group.projectId}/webhooks`,
        adminToken,
        { url: receiver.url, events: ['message.created'] },
      );
      webhooks.push({ projectId: group.projectId, id: webhook.id });
    }
    const withHook = [await runOne(measured, parley, perWorker), await runOne(measured, parley, perWorker)];
    const windowEnd = Date.now();
    ctx.progress.start('webhooks: waiting for the deliveries to drain');
    const expected = () => receiver.lags.length;
    let last = -1;
    let stableSince = Date.now();
    while (Date.now() - windowEnd < 60_000) {
      await new Promise((r) => setTimeout(r, 250));
      if (expected() !== last) {
        last = expected();
        stableSince = Date.now();
      } else if (Date.now() - stableSince > 2000) break;
      ctx.progress.update(`${expected()} delivered`);
    }
    const drainMs = Math.max(0, (receiver.times[receiver.times.length - 1] ?? windowEnd) - windowEnd);
    ctx.progress.done(`${receiver.lags.length} delivered, drained ${drainMs} ms after the window`);
    await removeWebhooks();
    const without = [firstWithout, await runOne(measured, parley, perWorker)];
    const first = receiver.times[0] ?? 0;
    const lastTime = receiver.times[receiver.times.length - 1] ?? first;
    const lagMs = summarize(receiver.lags);
    const mean = (runs: ThroughputRun[]) => round(runs.reduce((sum, r) => sum + r.ackedPerSec, 0) / runs.length, 0);
    return {
      conversations: firstWithout.conversations,
      withoutMsgsPerSec: mean(without),
      withMsgsPerSec: mean(withHook),
      ratio: ratio(mean(withHook), mean(without)),
      windows: {
        without: without.map((r) => r.ackedPerSec),
        with: withHook.map((r) => r.ackedPerSec),
      },
      deliveredPerSec: round(receiver.times.length / Math.max(0.001, (lastTime - first) / 1000), 0),
      lagMs,
      p99LagMs: lagMs.p99,
      delivered: receiver.times.length,
      drainMs,
      without: firstWithout,
      with: withHook[0] as ThroughputRun,
    };
  } finally {
    await removeWebhooks();
    await receiver.stop();
  }
}
