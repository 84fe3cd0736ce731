import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { Cursors } from './cursors';
import { WireServer } from './server';
import { Engine } from './storage/engine';
import { Journal } from './storage/journal';
import { sweepExpired } from './ttl-monitor';

export interface EmbeddedMongoOptions {
  /** 0 or unset: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Unset: in memory only. */
  dbPath?: string;
  /** Journal size from which compaction may run (default 64 MiB; tests lower it). */
  compactThresholdBytes?: number;
  /** Snapshot bytes a compaction writes per turn of the event loop (default 1 MiB; tests lower it). */
  compactChunkBytes?: number;
  /** Where to report dropped connections and recoveries (default: nowhere). */
  log?: (message: string) => void;
}

export interface EmbeddedMongo {
  /** `mongodb://HOST:PORT`, without a database name or trailing slash. */
  uri: string;
  host: string;
  port: number;
  /** Closes connections, lets a running compaction finish, flushes the journal, releases the data directory. */
  stop(): Promise<void>;
}

const TTL_SWEEP_MS = 60_000;

/**
 * Starts a MongoDB wire-protocol server in this process. With `dbPath` every acknowledged write
 * is journaled and replayed at the next start; without it, data lives in memory.
 */
export async function startEmbeddedMongo(options: EmbeddedMongoOptions = {}): Promise<EmbeddedMongo> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => undefined);
  let journal: Journal | undefined;
  if (options.dbPath) {
    const dir = path.resolve(options.dbPath);
    mkdirSync(dir, { recursive: true });
    journal = new Journal(dir, {
      ...(options.compactThresholdBytes !== undefined ? { compactThresholdBytes: options.compactThresholdBytes } : {}),
      ...(options.compactChunkBytes !== undefined ? { compactChunkBytes: options.compactChunkBytes } : {}),
      log,
    });
  }
  const engine = new Engine(journal);
  await engine.open();
  const cursors = new Cursors();
  const server = new WireServer({ engine, cursors, log });
  let port: number;
  try {
    port = await server.listen(options.port ?? 0, host);
  } catch (error) {
    cursors.close();
    engine.close();
    throw error;
  }
  const ttl = setInterval(() => {
    try {
      sweepExpired(engine);
    } catch (error) {
      log(`TTL sweep failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }, TTL_SWEEP_MS);
  ttl.unref();
  let stopped: Promise<void> | undefined;
  return {
    uri: `mongodb://${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    stop: () =>
      (stopped ??= (async () => {
        clearInterval(ttl);
        await server.close();
        cursors.close();
        await engine.idle();
        engine.close();
      })()),
  };
}
