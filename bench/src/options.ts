import path from 'node:path';
import { REPO_ROOT } from './paths';

export type ScenarioName = 'throughput' | 'latency' | 'connections' | 'search' | 'webhooks' | 'contacts' | 'imports';
export const SCENARIOS: ScenarioName[] = [
  'throughput',
  'latency',
  'connections',
  'search',
  'webhooks',
  'contacts',
  'imports',
];

export interface Sizes {
  /** Visitors (one conversation each) per worker at each throughput step. */
  throughputVisitorsPerWorker: number[];
  /** The throughput step quoted as the headline (index into the list above). */
  throughputHeadline: number;
  throughputWindow: number;
  throughputMs: number;
  latencyRates: number[];
  latencyVisitorsPerWorker: number;
  latencyMs: number;
  /** Cumulative connection counts, the last one quoted as the headline. */
  connectionSteps: number[];
  /** Cumulative lead counts; 10k and 100k are the ones the targets name. */
  searchSteps: number[];
  searchQueries: number;
  /** Rows of the contact import (a CSV of new contacts); env BENCH_IMPORT_ROWS overrides it. */
  importRows: number;
  /** Leads (10 properties each) the contacts scenario filters; env BENCH_CONTACTS_LEADS overrides it. */
  contactsLeads: number;
  /** Visitors per worker in the webhook scenario (one conversation each), and its measured window. */
  webhookVisitorsPerWorker: number;
  webhookMs: number;
}

export interface Options {
  quick: boolean;
  workers: number;
  only: ScenarioName[];
  json?: string;
  report: string;
  mongodbUri?: string;
  /** Directory for `node --cpu-prof` profiles of the Parley process. */
  cpuProf?: string;
  label?: string;
  sizes: Sizes;
}

/**
 * The full run's largest connection count: 20,000 would need more file descriptors than this
 * machine's hard limit (20,000 per process) lets the server have, with its listening socket,
 * database pool and stdio on top. `--connections N` overrides it where the limit is higher.
 */
const FULL_CONNECTIONS = 19_500;

const QUICK: Sizes = {
  throughputVisitorsPerWorker: [25, 100],
  throughputHeadline: 1,
  throughputWindow: 2,
  throughputMs: 5000,
  latencyRates: [250, 1000, 4000],
  latencyVisitorsPerWorker: 50,
  latencyMs: 4000,
  connectionSteps: [1000, 5000],
  searchSteps: [1000, 10_000],
  searchQueries: 150,
  importRows: 10_000,
  contactsLeads: 10_000,
  webhookVisitorsPerWorker: 100,
  webhookMs: 5000,
};

const FULL: Sizes = {
  throughputVisitorsPerWorker: [25, 100, 400],
  throughputHeadline: 1,
  throughputWindow: 2,
  throughputMs: 15_000,
  latencyRates: [250, 1000, 2000, 4000],
  latencyVisitorsPerWorker: 100,
  latencyMs: 10_000,
  connectionSteps: [1000, 5000, 10_000, FULL_CONNECTIONS],
  searchSteps: [1000, 10_000, 100_000],
  searchQueries: 400,
  importRows: 100_000,
  contactsLeads: 100_000,
  webhookVisitorsPerWorker: 100,
  webhookMs: 15_000,
};

const USAGE = `usage: npm run bench -- [--quick] [--json FILE] [--report FILE] [--only a,b] [--workers N]
                          [--connections N] [--cpu-prof DIR] [--label TEXT]

  --quick          small sizes, about 2-3 minutes (default: the full run)
  --json FILE      write the figures as JSON
  --report FILE    markdown report with an SVG chart beside it (default bench/results/report.md)
  --only LIST      scenarios to run: ${SCENARIOS.join(',')}
  --workers N      load-generator processes (default 2)
  --connections N  largest connection count (default 5000 quick, ${FULL_CONNECTIONS} full)
  --webhook-ms N   measured window of the webhooks scenario (default 5000 quick, 15000 full)
  --cpu-prof DIR   run Parley, embedded-mongo and the baseline under node --cpu-prof (profiles in DIR)
  --label TEXT     a name for this run in the report (e.g. "before")

MONGODB_URI=mongodb://host:27017 runs Parley on that MongoDB instead of a standalone embedded-mongo.
BENCH_IMPORT_ROWS=N and BENCH_CONTACTS_LEADS=N set the import's rows and the contacts scenario's leads.
`;

/** A positive whole number from the environment (sizes to measure at without the full run). */
function envCount(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number, not ${raw}`);
  return value;
}

export function parseOptions(argv: string[]): Options {
  let quick = false;
  let workers = 2;
  let only: ScenarioName[] = [...SCENARIOS];
  let json: string | undefined;
  let report = path.join(REPO_ROOT, 'bench', 'results', 'report.md');
  let cpuProf: string | undefined;
  let label: string | undefined;
  let connections: number | undefined;
  let webhookMs: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    switch (arg) {
      case '--quick':
        quick = true;
        break;
      case '--json':
        json = path.resolve(value());
        break;
      case '--report':
        report = path.resolve(value());
        break;
      case '--workers':
        workers = Math.max(1, Number(value()) | 0);
        break;
      case '--connections':
        connections = Math.max(1, Number(value()) | 0);
        break;
      case '--webhook-ms':
        webhookMs = Math.max(500, Number(value()) | 0);
        break;
      case '--only':
        only = value()
          .split(',')
          .map((s) => s.trim()) as ScenarioName[];
        for (const name of only) if (!SCENARIOS.includes(name)) throw new Error(`unknown scenario ${name}\n${USAGE}`);
        break;
      case '--cpu-prof':
        cpuProf = path.resolve(value());
        break;
      case '--label':
        label = value();
        break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  const sizes = { ...(quick ? QUICK : FULL) };
  if (connections !== undefined) {
    sizes.connectionSteps = [...sizes.connectionSteps.filter((n) => n < connections), connections];
  }
  if (webhookMs !== undefined) sizes.webhookMs = webhookMs;
  sizes.importRows = envCount('BENCH_IMPORT_ROWS') ?? sizes.importRows;
  sizes.contactsLeads = envCount('BENCH_CONTACTS_LEADS') ?? sizes.contactsLeads;
  const mongodbUri = process.env['MONGODB_URI'] || undefined;
  return {
    quick,
    workers,
    only,
    report,
    sizes,
    ...(json ? { json } : {}),
    ...(mongodbUri ? { mongodbUri } : {}),
    ...(cpuProf ? { cpuProf } : {}),
    ...(label ? { label } : {}),
  };
}
