import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { latencyChartSvg } from '../report/latency-chart';
import { markdownReport } from '../report/markdown';
import type { BenchResult } from '../report/result';

/**
 * Renders the markdown report (and its latency chart) again from a `--json` file, so a report can
 * be regenerated without running the benchmark again.
 * Usage: node bench/dist/tools/render-report.js RESULT.json REPORT.md [CHART.svg]
 */
function main(): void {
  const [json, report, chartArg] = process.argv.slice(2);
  if (!json || !report) throw new Error('usage: render-report RESULT.json REPORT.md [CHART.svg]');
  const result = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
  let href: string | undefined;
  if (result.latency) {
    const chart = chartArg ?? report.replace(/\.md$/, '') + '-latency.svg';
    writeFileSync(
      chart,
      latencyChartSvg(result.latency.levels, `Latency against offered load (${result.meta.mode} run)`),
    );
    href = path.relative(path.dirname(path.resolve(report)), path.resolve(chart));
  }
  writeFileSync(report, markdownReport(result, href));
}

main();
