import type { BenchResult } from './result';
import { checkTargets, verdict } from './targets-check';

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** The human summary printed on stdout at the end of a run. */
export function summaryText(r: BenchResult): string {
  const lines: string[] = [];
  const m = r.meta;
  lines.push(
    `Parley benchmark (${m.mode}${m.label ? `, ${m.label}` : ''}) — ${m.machine.cpu}, ${m.machine.cores} cores, ${m.machine.memoryGiB} GiB, Node ${m.machine.node}`,
    `database: ${m.database}${m.databaseCompactions !== undefined ? ` (${m.databaseCompactions} journal compactions)` : ''}; ${m.workers} load workers; ${Math.round(m.durationSec)} s`,
    '',
  );
  if (r.throughput) {
    const t = r.throughput;
    lines.push(
      `throughput (${t.conversations} conversations, window ${t.window}): baseline ${t.baselineMsgsPerSec} msg/s, Parley ${t.parleyMsgsPerSec} msg/s stored+acked → ratio ${t.ratio}`,
      `  delivered to agents: baseline ${t.baselineDeliveredPerSec}/s, Parley ${t.parleyDeliveredPerSec}/s → ratio ${t.deliveredRatio}`,
    );
    for (const s of t.steps) {
      lines.push(
        `  ${s.conversations} conversations: baseline ${s.baseline.ackedPerSec}, Parley ${s.parley.ackedPerSec} msg/s (ratio ${s.ratio})`,
      );
    }
  }
  if (r.latency) {
    lines.push('latency, visitor send → agent receive (ms):');
    for (const l of r.latency.levels) {
      const f = (x: typeof l.parley) =>
        `p50 ${x.delivery.p50} p95 ${x.delivery.p95} p99 ${x.delivery.p99} max ${x.delivery.max} (${x.achievedMsgsPerSec}/s)`;
      lines.push(
        `  ${l.offeredMsgsPerSec} msg/s  baseline ${f(l.baseline)} | Parley ${f(l.parley)} | p99 ×${l.p99Ratio}`,
      );
    }
  }
  if (r.connections) {
    const c = r.connections;
    lines.push(
      `connections (${c.count} idle visitors): heap/conn baseline ${kib(c.baselineHeapBytesPerConnection)}, Parley ${kib(c.parleyHeapBytesPerConnection)} (×${c.heapRatio}); RSS/conn baseline ${kib(c.baselineRssBytesPerConnection)}, Parley ${kib(c.parleyRssBytesPerConnection)}`,
      `  connect rate: baseline ${c.baselineConnectsPerSec}/s (connect only), Parley ${c.connectsPerSec}/s (sign-in + connect)`,
    );
  }
  if (r.search) {
    for (const s of r.search.steps) {
      lines.push(
        `search at ${s.leads} leads: email p50 ${s.email.p50} p99 ${s.email.p99} ms; prefix p50 ${s.prefix.p50} p99 ${s.prefix.p99} ms (${s.prefixMeanMatches} matches)`,
      );
    }
  }
  if (r.webhooks) {
    const w = r.webhooks;
    lines.push(
      `webhooks (${w.conversations} conversations, a message.created webhook per project): ${w.withoutMsgsPerSec} msg/s without, ${w.withMsgsPerSec} with → ratio ${w.ratio} (windows without/with/with/without: ${[w.windows.without[0], ...w.windows.with, w.windows.without[1]].join(', ')})`,
      `  delivered ${w.delivered} at ${w.deliveredPerSec}/s; lag event → receiver p50 ${w.lagMs.p50} p99 ${w.p99LagMs} ms; drained ${w.drainMs} ms after the window`,
    );
  }
  if (r.contacts?.importRowsPerSec !== undefined) {
    const c = r.contacts;
    lines.push(
      `contacts import (${c.importRows} rows): ${c.importRowsPerSec} rows/s, ${c.importSeconds} s, server RSS +${((c.importRssGrowthBytes ?? 0) / 1024 / 1024).toFixed(1)} MiB`,
    );
  }
  lines.push('', 'targets:');
  for (const c of checkTargets(r)) lines.push(`  [${verdict(c.met)}] ${c.target}: ${c.measured}`);
  return `${lines.join('\n')}\n`;
}
