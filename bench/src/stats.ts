/** Summary of a set of latency samples, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (`q` in 0..1). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const list = Array.from(sorted);
  const sum = list.reduce((a, b) => a + b, 0);
  return {
    count: list.length,
    p50: round(percentile(list, 0.5)),
    p95: round(percentile(list, 0.95)),
    p99: round(percentile(list, 0.99)),
    max: round(list.length ? (list[list.length - 1] as number) : Number.NaN),
    mean: round(list.length ? sum / list.length : Number.NaN),
  };
}

/** Two decimals: enough for milliseconds, short enough for a report. */
export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Parley's figure over the baseline's; NaN when the baseline is zero or missing. */
export function ratio(parley: number, baseline: number): number {
  return baseline > 0 && Number.isFinite(parley) ? round(parley / baseline, 3) : Number.NaN;
}
