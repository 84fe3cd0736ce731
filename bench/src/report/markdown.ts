import type { BenchResult } from './result';
import { checkTargets, verdict } from './targets-check';

const kib = (bytes: number) => (bytes / 1024).toFixed(1);

function table(head: string[], rows: (string | number)[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** The markdown report; `chartHref` is the latency chart's path relative to the report. */
export function markdownReport(r: BenchResult, chartHref: string | undefined): string {
  const m = r.meta;
  const out: string[] = [];
  out.push(
    `# Parley benchmark${m.label ? ` — ${m.label}` : ''} (${m.mode} run)`,
    '',
    `Run ${m.startedAt}, ${Math.round(m.durationSec)} s, with \`${m.command}\`.`,
    '',
    table(
      ['machine', ''],
      [
        ['CPU', m.machine.cpu],
        ['cores', m.machine.cores],
        ['memory', `${m.machine.memoryGiB} GiB`],
        ['Node', m.machine.node],
        ['OS', m.machine.os],
        ['open files (soft/hard)', m.machine.nofile],
        [
          'database',
          m.database +
            (m.databaseCompactions !== undefined
              ? ` — ${m.databaseCompactions} journal compactions during the run`
              : ''),
        ],
        ['load workers', `${m.workers} processes (child_process.fork), socket.io-client over loopback`],
      ],
    ),
    '',
    "Every scenario runs against the **baseline** (a bare Socket.IO relay: ack + fan-out to the agents' room",
    "and the visitor's room, no auth, validation or storage) and against **Parley** (NODE_ENV=production,",
    'its own process, the database in another, rate limits lifted) in the same run. Load workers, servers and',
    'database share the same cores, so absolute numbers are for this machine only; the ratios are the point.',
    '',
    '## Targets',
    '',
    table(
      ['target', 'measured', ''],
      checkTargets(r).map((c) => [c.target, c.measured, verdict(c.met)]),
    ),
  );

  if (r.throughput) {
    const t = r.throughput;
    out.push(
      '',
      '## Throughput',
      '',
      `Closed loop: every visitor keeps ${t.window} messages in flight, ${t.durationMs / 1000} s measured after a 1 s warm-up; one agent`,
      'per load worker listens to its project. "acked" = stored (Parley) and acknowledged; "delivered" = `message.created` received by the agents.',
      '',
      table(
        [
          'conversations',
          'baseline acked/s',
          'Parley acked/s',
          'ratio',
          'baseline delivered/s',
          'Parley delivered/s',
          'Parley ack p50 / p99 ms',
          'CPU ms per 1k msgs: baseline / Parley + database',
        ],
        t.steps.map((s) => [
          s.conversations,
          s.baseline.ackedPerSec,
          s.parley.ackedPerSec,
          s.ratio,
          s.baseline.deliveredPerSec,
          s.parley.deliveredPerSec,
          `${s.parley.ackLatency.p50} / ${s.parley.ackLatency.p99}`,
          `${s.baseline.serverCpuMsPer1k} / ${s.parley.serverCpuMsPer1k} + ${s.parley.databaseCpuMsPer1k ?? '?'}`,
        ]),
      ),
      '',
      `Headline (${t.conversations} conversations): **${t.parleyMsgsPerSec} vs ${t.baselineMsgsPerSec} msg/s, ratio ${t.ratio}**.`,
    );
  }

  if (r.latency) {
    const l = r.latency;
    out.push(
      '',
      '## Latency',
      '',
      `Open loop at fixed offered loads over ${l.conversations} conversations, ${l.durationMs / 1000} s each: visitor send → agent`,
      'receive, both sockets in the same worker process (one monotonic clock). "delivered/s" below the offer means saturated;',
      'a worker then skips sends while 2,000 of its messages are unacknowledged, so the backlog stays bounded.',
      '',
      table(
        [
          'offered msg/s',
          'baseline p50 / p95 / p99 / max ms',
          'Parley p50 / p95 / p99 / max ms',
          'p99 ratio',
          'baseline delivered/s',
          'Parley delivered/s',
        ],
        l.levels.map((x) => [
          x.offeredMsgsPerSec,
          `${x.baseline.delivery.p50} / ${x.baseline.delivery.p95} / ${x.baseline.delivery.p99} / ${x.baseline.delivery.max}`,
          `${x.parley.delivery.p50} / ${x.parley.delivery.p95} / ${x.parley.delivery.p99} / ${x.parley.delivery.max}`,
          x.p99Ratio,
          x.baseline.achievedMsgsPerSec,
          x.parley.achievedMsgsPerSec +
            (x.parley.skipped ? ` (saturated: ${x.parley.skipped} sends skipped)` : '') +
            (x.parley.undelivered ? ` (${x.parley.undelivered} undelivered)` : ''),
        ]),
      ),
    );
    if (chartHref) out.push('', `![latency against offered load](${chartHref})`);
  }

  if (r.connections) {
    const c = r.connections;
    out.push(
      '',
      '## Connections',
      '',
      'Idle authenticated visitor sockets (Parley: anonymous sign-in over REST, then a `/visitor` socket with the token;',
      'baseline: connect only). Heap and RSS are read inside each server process after a full GC, as growth since before the',
      'first socket, divided by the sockets held.',
      '',
      table(
        [
          'sockets',
          'baseline heap/conn KiB',
          'Parley heap/conn KiB',
          'heap ratio',
          'baseline RSS/conn KiB',
          'Parley RSS/conn KiB',
          'baseline connects/s',
          'Parley sign-in+connects/s',
        ],
        c.steps.map((s) => [
          s.count,
          kib(s.baseline.heapBytesPerConnection),
          kib(s.parley.heapBytesPerConnection),
          s.heapRatio,
          kib(s.baseline.rssBytesPerConnection),
          kib(s.parley.rssBytesPerConnection),
          s.baseline.connectsPerSec,
          s.parley.connectsPerSec,
        ]),
      ),
    );
  }

  if (r.search) {
    out.push(
      '',
      '## Contact search',
      '',
      "REST `GET /v1/projects/{id}/leads` as an agent, one request at a time: `email=` an existing lead's address, `q=` the first",
      'four letters of a last name (prefix over names, email and phone; the answer includes `total`, so the count covers every match).',
      "Leads are written straight into the database in the lead model's shape.",
      '',
      table(
        ['leads', 'email p50 / p99 ms', 'prefix p50 / p99 ms', 'prefix matches (mean)', 'seeding ms per 1k'],
        r.search.steps.map((s) => [
          s.leads,
          `${s.email.p50} / ${s.email.p99}`,
          `${s.prefix.p50} / ${s.prefix.p99}`,
          s.prefixMeanMatches,
          s.seedMsPerThousand,
        ]),
      ),
    );
  }

  if (r.webhooks) {
    const w = r.webhooks;
    out.push(
      '',
      '## Webhooks',
      '',
      'The throughput run (closed loop, Parley alone) four times: without webhooks, with a `message.created` webhook on every',
      'project to a receiver in the bench process (answers 204) twice, and without again after the deliveries drained (ABBA, so',
      "that the database's growth from window to window weighs on both sides); msg/s are the means of each side's two windows.",
      "Lag is from the event's `timestamp` to the receiver having it.",
      '',
      table(
        [
          'conversations',
          'msg/s without',
          'msg/s with',
          'ratio',
          'windows (without, with, with, without)',
          'delivered/s',
          'lag p50 / p99 ms',
          'drained after window',
        ],
        [
          [
            w.conversations,
            w.withoutMsgsPerSec,
            w.withMsgsPerSec,
            w.ratio,
            [w.windows.without[0], ...w.windows.with, w.windows.without[1]].join(', '),
            w.deliveredPerSec,
            `${w.lagMs.p50} / ${w.p99LagMs}`,
            `${w.drainMs} ms`,
          ],
        ],
      ),
    );
  }

  out.push('', '## Reproduce', '', '```sh', 'npm ci', m.command, '```', '');
  return out.join('\n');
}
