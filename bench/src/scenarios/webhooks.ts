import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ratio, round, summarize, type LatencySummary } from '../stats';
import type { Target } from '../targets';
import type { Context } from './context';
import { runOne, type ThroughputRun } from './throughput';

export interface WebhooksResult {
  conversations: number;
  /** Messages stored and acknowledged per second, without and with a `message.created` webhook. */
  withoutMsgsPerSec: number;
  withMsgsPerSec: number;
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
 * Message throughput without and then with a `message.created` webhook on every project (to a
 * receiver on this machine), in the same run: delivery is off the message path, so the second
 * should stay within 10 % of the first. Then how fast the deliveries went out, and their lag from
 * event to receiver.
 */
export async function webhooksScenario(ctx: Context, adminToken: string): Promise<WebhooksResult> {
  const parley = ctx.targets.find((t) => t.kind === 'parley') as Target;
  const perWorker = ctx.options.sizes.webhookVisitorsPerWorker;
  const sizes = { ...ctx.options.sizes, throughputMs: ctx.options.sizes.webhookMs };
  const measured = { ...ctx, options: { ...ctx.options, sizes } };

  const without = await runOne(measured, parley, perWorker);

  const receiver = new Receiver();
  await receiver.start();
  const webhooks: { projectId: string; id: string }[] = [];
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
    const withHook = await runOne(measured, parley, perWorker);
    const windowEnd = Date.now();
    // Everything the run produced (the warm-up's messages too) reaches the receiver: wait for the
    // queue to drain, up to a minute.
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
    const first = receiver.times[0] ?? 0;
    const lastTime = receiver.times[receiver.times.length - 1] ?? first;
    const lagMs = summarize(receiver.lags);
    return {
      conversations: without.conversations,
      withoutMsgsPerSec: without.ackedPerSec,
      withMsgsPerSec: withHook.ackedPerSec,
      ratio: ratio(withHook.ackedPerSec, without.ackedPerSec),
      deliveredPerSec: round(receiver.times.length / Math.max(0.001, (lastTime - first) / 1000), 0),
      lagMs,
      p99LagMs: lagMs.p99,
      delivered: receiver.times.length,
      drainMs,
      without,
      with: withHook,
    };
  } finally {
    for (const { projectId, id } of webhooks)
      await api(parley.url, 'DELETE', `/v1/projects/${projectId}/webhooks/${id}`, adminToken).catch(() => undefined);
    await receiver.stop();
  }
}
