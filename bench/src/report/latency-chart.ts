import type { LatencyLevel } from '../scenarios/latency';

const W = 640;
const H = 360;
const M = { left: 64, right: 170, top: 30, bottom: 48 };

interface Series {
  name: string;
  color: string;
  dash?: string;
  points: { x: number; y: number }[];
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** 1, 2, 5 × 10^n steps between `min` and `max` (powers of ten alone over a wide range). */
function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  const mantissas = Math.log10(max / min) > 3 ? [1] : [1, 2, 5];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of mantissas) {
      const v = m * 10 ** e;
      if (v >= min / 1.0001 && v <= max * 1.0001) ticks.push(v);
    }
  }
  return ticks;
}

const label = (v: number) => (v >= 1000 ? `${v / 1000}k` : v >= 1 ? String(v) : v.toString());

/**
 * Latency against offered load, log-log, p50 and p99 for Parley and the baseline. Hand-written SVG
 * (no chart library): a chart is a handful of lines and circles.
 */
export function latencyChartSvg(levels: LatencyLevel[], title: string): string {
  const series: Series[] = [
    {
      name: 'Parley p99',
      color: '#c0392b',
      points: levels.map((l) => ({ x: l.offeredMsgsPerSec, y: l.parley.delivery.p99 })),
    },
    {
      name: 'Parley p50',
      color: '#c0392b',
      dash: '6 4',
      points: levels.map((l) => ({ x: l.offeredMsgsPerSec, y: l.parley.delivery.p50 })),
    },
    {
      name: 'baseline p99',
      color: '#2471a3',
      points: levels.map((l) => ({ x: l.offeredMsgsPerSec, y: l.baseline.delivery.p99 })),
    },
    {
      name: 'baseline p50',
      color: '#2471a3',
      dash: '6 4',
      points: levels.map((l) => ({ x: l.offeredMsgsPerSec, y: l.baseline.delivery.p50 })),
    },
  ];
  const xs = levels.map((l) => l.offeredMsgsPerSec);
  const ys = series.flatMap((s) => s.points.map((p) => Math.max(p.y, 0.1))).filter(Number.isFinite);
  const xMin = Math.min(...xs) / 1.3;
  const xMax = Math.max(...xs) * 1.3;
  const yMin = Math.max(0.1, 10 ** Math.floor(Math.log10(Math.min(...ys))));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...ys) * 1.05));
  const px = (x: number) =>
    M.left + ((Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * (W - M.left - M.right);
  const py = (y: number) =>
    H -
    M.bottom -
    ((Math.log10(Math.max(y, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) *
      (H - M.top - M.bottom);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.left}" y="18" font-size="14" font-weight="bold">${escape(title)}</text>`,
  );
  for (const y of logTicks(yMin, yMax)) {
    out.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${M.left - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${label(y)}</text>`,
    );
  }
  for (const x of xs) {
    out.push(
      `<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#e5e5e5"/>`,
      `<text x="${px(x).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${label(x)}</text>`,
    );
  }
  out.push(
    `<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">offered load (msg/s, log scale)</text>`,
    `<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">send → agent receive (ms, log scale)</text>`,
  );
  series.forEach((s, i) => {
    const d = s.points
      .filter((p) => Number.isFinite(p.y))
      .map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`)
      .join(' ');
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
    );
    for (const p of s.points) {
      if (Number.isFinite(p.y))
        out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
    const ly = M.top + 10 + i * 20;
    out.push(
      `<line x1="${W - M.right + 14}" x2="${W - M.right + 44}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      `<text x="${W - M.right + 50}" y="${ly + 4}">${escape(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
