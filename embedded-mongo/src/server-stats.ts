import os from 'node:os';
import type { Document } from 'bson';

/** Connections the server accepts at most (as `connections.available` counts down from). */
export const MAX_CONNECTIONS = 1_000_000;

/**
 * What `serverStatus` reports: connections and operation counters, counted as a standalone
 * mongod counts them (`insert`, `update` and `delete` per document or statement, `query` per
 * find, `getmore` per getMore, `command` per other command).
 */
export class ServerStats {
  readonly startedAt = Date.now();
  connectionsCurrent = 0;
  connectionsTotalCreated = 0;
  readonly opcounters = { insert: 0, query: 0, update: 0, delete: 0, getmore: 0, command: 0 };

  opened(): void {
    this.connectionsCurrent++;
    this.connectionsTotalCreated++;
  }

  closed(): void {
    this.connectionsCurrent--;
  }

  record(name: string, cmd: Document): void {
    const count = (field: string) => (Array.isArray(cmd[field]) ? (cmd[field] as unknown[]).length : 0);
    switch (name) {
      case 'insert':
        this.opcounters.insert += count('documents');
        break;
      case 'update':
        this.opcounters.update += count('updates');
        break;
      case 'delete':
        this.opcounters.delete += count('deletes');
        break;
      case 'find':
        this.opcounters.query++;
        break;
      case 'getMore':
        this.opcounters.getmore++;
        break;
      default:
        this.opcounters.command++;
    }
  }

  /** The fields of a standalone MongoDB 7.0's `serverStatus` that mean something here. */
  status(version: string, port: number): Document {
    const now = Date.now();
    const uptimeMillis = now - this.startedAt;
    const memory = process.memoryUsage();
    const mib = (bytes: number) => Math.round(bytes / (1024 * 1024));
    return {
      host: `${os.hostname()}:${port}`,
      version,
      process: 'mongod',
      pid: process.pid,
      uptime: Math.floor(uptimeMillis / 1000),
      uptimeMillis,
      uptimeEstimate: Math.floor(uptimeMillis / 1000),
      localTime: new Date(now),
      connections: {
        current: this.connectionsCurrent,
        available: MAX_CONNECTIONS - this.connectionsCurrent,
        totalCreated: this.connectionsTotalCreated,
      },
      opcounters: { ...this.opcounters },
      mem: { bits: 64, resident: mib(memory.rss), virtual: mib(memory.rss + memory.external), supported: true },
      ok: 1,
    };
  }
}
