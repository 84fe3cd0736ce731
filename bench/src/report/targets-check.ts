import type { BenchResult } from './result';

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | undefined;
}

const ms = (v: number) => `${v} ms`;

/** The targets, each with what this run measured. `undefined`: the scenario did not run. */
export function checkTargets(r: BenchResult): TargetCheck[] {
  const checks: TargetCheck[] = [];
  if (r.throughput) {
    checks.push({
      target: 'throughput ratio to baseline ≥ 0.6',
      measured: `${r.throughput.ratio} (${r.throughput.parleyMsgsPerSec} vs ${r.throughput.baselineMsgsPerSec} msg/s)`,
      met: r.throughput.ratio >= 0.6,
    });
  }
  if (r.latency) {
    const l = r.latency;
    checks.push({
      target: `p99 at ${l.offeredMsgsPerSec} msg/s ≤ 25 ms`,
      measured: ms(l.parleyP99Ms),
      met: l.parleyP99Ms <= 25,
    });
    checks.push({
      target: `p99 at ${l.offeredMsgsPerSec} msg/s ≤ 2× baseline p99`,
      measured: `${l.p99Ratio}× (${ms(l.parleyP99Ms)} vs ${ms(l.baselineP99Ms)})`,
      met: l.p99Ratio <= 2,
    });
  }
  if (r.connections) {
    const c = r.connections;
    checks.push({
      target: 'heap per idle visitor connection ≤ 1.5× baseline',
      measured: `${c.heapRatio}× (${(c.parleyHeapBytesPerConnection / 1024).toFixed(1)} vs ${(c.baselineHeapBytesPerConnection / 1024).toFixed(1)} KiB at ${c.count})`,
      met: c.heapRatio <= 1.5,
    });
  }
  if (r.search) {
    const s = r.search;
    const worst = Math.max(s.emailP99Ms, s.prefixP99Ms);
    checks.push({
      target: `contact search p99 ≤ 50 ms at ${s.leads} leads`,
      measured: `email ${ms(s.emailP99Ms)}, prefix ${ms(s.prefixP99Ms)}`,
      met: s.leads >= 100_000 ? worst <= 50 : undefined,
    });
  }
  if (r.webhooks) {
    checks.push({
      target: 'message throughput with a message.created webhook ≥ 0.9× without',
      measured: `${r.webhooks.ratio} (${r.webhooks.withMsgsPerSec} vs ${r.webhooks.withoutMsgsPerSec} msg/s)`,
      met: r.webhooks.ratio >= 0.9,
    });
  }
  return checks;
}

export const verdict = (met: boolean | undefined) =>
  met === undefined ? 'n/a (needs the full run)' : met ? 'met' : 'missed';
