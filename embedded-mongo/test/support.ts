import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { startEmbeddedMongo, type EmbeddedMongo, type EmbeddedMongoOptions } from '../src';

export interface Harness {
  server: EmbeddedMongo;
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** A server on a free port and a driver client on database `test`. */
export async function harness(options: EmbeddedMongoOptions = {}): Promise<Harness> {
  const server = await startEmbeddedMongo(options);
  const client = new MongoClient(`${server.uri}/test`, { serverSelectionTimeoutMS: 3000 });
  await client.connect();
  return {
    server,
    client,
    db: client.db(),
    async close() {
      await client.close();
      await server.stop();
    },
  };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'embedded-mongo-test-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const BIN = path.join(__dirname, '..', 'bin', 'embedded-mongo.js');

export interface BinProcess {
  child: ChildProcess;
  uri: string;
  stdout(): string;
  stderr(): string;
}

const spawned = new Set<ChildProcess>();

/** Kills whatever a failed test left running. */
export function killSpawned(): void {
  for (const child of spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  spawned.clear();
}

/** Runs the bin (needs `dist/`, built by `tsc -b`) and waits for its one listening line. */
export function startBin(args: string[]): Promise<BinProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    spawned.add(child);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${stdout}\n${stderr}`)), 15_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /^embedded-mongo listening on (mongodb:\/\/\S+) \(/m.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ child, uri: match[1], stdout: () => stdout, stderr: () => stderr });
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${stdout}\n${stderr}`));
    });
  });
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null
      ? resolve(child.exitCode)
      : child.once('exit', (code) => resolve(code)),
  );
}

/** Runs the bin to completion, for argument handling. */
export function runBin(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
