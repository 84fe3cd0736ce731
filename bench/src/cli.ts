import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkerPool } from './load/worker-pool';
import { parseOptions, type Options } from './options';
import { startBaseline } from './processes/baseline';
import { startDatabase } from './processes/database';
import { startParley } from './processes/parley';
import { Progress } from './progress';
import { latencyChartSvg } from './report/latency-chart';
import { describeMachine } from './report/machine';
import { markdownReport } from './report/markdown';
import type { BenchResult } from './report/result';
import { summaryText } from './report/summary';
import { connectionsScenario } from './scenarios/connections';
import type { Context } from './scenarios/context';
import { latencyScenario } from './scenarios/latency';
import { searchScenario } from './scenarios/search';
import { throughputScenario } from './scenarios/throughput';
import { webhooksScenario } from './scenarios/webhooks';
import { contactsScenario } from './scenarios/contacts';
import { importsScenario } from './scenarios/imports';
import { baselineGroups, parleyGroups, type Target } from './targets';

/** How to run this again: the arguments given, less where the output went. */
function commandLine(options: Options): string {
  const argv = process.argv.slice(2);
  const kept = argv.filter(
    (arg, i) => !['--json', '--report'].includes(arg) && !['--json', '--report'].includes(argv[i - 1] ?? ''),
  );
  const env = options.mongodbUri ? 'MONGODB_URI=mongodb://… ' : '';
  return `${env}npm run bench${kept.length ? ` -- ${kept.join(' ')}` : ''}`;
}

function writeOutputs(options: Options, result: BenchResult): void {
  process.stdout.write(`\n${summaryText(result)}`);
  if (options.json) {
    mkdirSync(path.dirname(options.json), { recursive: true });
    writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`json: ${options.json}\n`);
  }
  mkdirSync(path.dirname(options.report), { recursive: true });
  let chartHref: string | undefined;
  if (result.latency) {
    const chart = options.report.replace(/\.md$/, '') + '-latency.svg';
    writeFileSync(
      chart,
      latencyChartSvg(result.latency.levels, `Latency against offered load (${result.meta.mode} run)`),
    );
    chartHref = path.basename(chart);
  }
  writeFileSync(options.report, markdownReport(result, chartHref));
  process.stdout.write(`report: ${options.report}\n`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const started = Date.now();
  const progress = new Progress();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-'));
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

  try {
    progress.start('starting database, Parley, baseline and load workers');
    // Profiles are written when each process exits, named after it.
    const profile = (name: string) =>
      options.cpuProf
        ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProf, '--cpu-prof-name', `${name}-${started}.cpuprofile`]
        : [];
    const database = await startDatabase(options.mongodbUri, path.join(scratch, 'db'), profile('embedded-mongo'));
    cleanups.push(() => database.stop());
    const parley = await startParley(database.uri, path.join(scratch, 'parley'), profile('parley'));
    cleanups.push(() => parley.process.stop());
    const baseline = await startBaseline(profile('baseline'));
    cleanups.push(() => baseline.process.stop());
    const pool = WorkerPool.start(options.workers);
    cleanups.push(() => pool.stop());
    const targets: Target[] = [
      { kind: 'baseline', url: baseline.url, process: baseline.process, groups: baselineGroups(pool.size) },
      {
        kind: 'parley',
        url: parley.url,
        process: parley.process,
        groups: await parleyGroups(parley.url, parley.adminToken, pool.size),
      },
    ];
    progress.done(`Parley ${parley.url} on ${database.description}; baseline ${baseline.url}`);

    const ctx: Context = { pool, options, progress, targets, database };
    const result: BenchResult = {
      meta: {
        ...(options.label ? { label: options.label } : {}),
        mode: options.quick ? 'quick' : 'full',
        startedAt: new Date(started).toISOString(),
        durationSec: 0,
        machine: describeMachine(),
        database: database.description,
        workers: pool.size,
        command: commandLine(options),
      },
    };
    // Connections first: memory is weighed before the message scenarios leave caches behind.
    if (options.only.includes('connections')) result.connections = await connectionsScenario(ctx);
    if (options.only.includes('throughput')) result.throughput = await throughputScenario(ctx);
    if (options.only.includes('latency')) result.latency = await latencyScenario(ctx);
    if (options.only.includes('search')) result.search = await searchScenario(ctx);
    if (options.only.includes('webhooks')) result.webhooks = await webhooksScenario(ctx, parley.adminToken);
    if (options.only.includes('contacts')) result.contacts = { ...result.contacts, ...(await contactsScenario(ctx)) };
    if (options.only.includes('imports'))
      result.contacts = { ...result.contacts, ...(await importsScenario(ctx, parley.adminToken)) };
    result.meta.durationSec = (Date.now() - started) / 1000;
    // Each compaction rewrites the whole database (in the background, but on the same cores).
    const compactions = database.process
      ? (database.process.output().match(/compacted the journal/g)?.length ?? 0)
      : undefined;
    if (compactions !== undefined) result.meta.databaseCompactions = compactions;
    await cleanup();
    writeOutputs(options, result);
  } catch (error) {
    await cleanup();
    throw error;
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
