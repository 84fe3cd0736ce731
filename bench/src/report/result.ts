import type { ConnectionsResult } from '../scenarios/connections';
import type { LatencyResult } from '../scenarios/latency';
import type { SearchResult } from '../scenarios/search';
import type { ThroughputResult } from '../scenarios/throughput';
import type { WebhooksResult } from '../scenarios/webhooks';
import type { ContactsResult } from '../scenarios/contacts';
import type { ImportsResult } from '../scenarios/imports';
import type { Machine } from './machine';

/** Everything one run measured: the `--json` file, and what the summary and report are made from. */
export interface BenchResult {
  meta: {
    label?: string;
    mode: 'quick' | 'full';
    startedAt: string;
    durationSec: number;
    machine: Machine;
    database: string;
    /** Journal compactions embedded-mongo did during the run (background work competing for the CPU). */
    databaseCompactions?: number;
    workers: number;
    command: string;
  };
  throughput?: ThroughputResult;
  latency?: LatencyResult;
  connections?: ConnectionsResult;
  search?: SearchResult;
  webhooks?: WebhooksResult;
  /** Contacts as a CRM surface (issue 15): the filter scenario's figures and the import's. */
  contacts?: Partial<ContactsResult> & Partial<ImportsResult>;
}
