import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { startEmbeddedMongo } from '../src';
import { exitOf, tempDir } from './support';

/** The repository root, where README.md says to run the commands from. */
const ROOT = path.join(__dirname, '..', '..');

/** Whether something accepts connections at a mongodb://host:port URI. */
function listening(uri: string): Promise<boolean> {
  const { hostname, port } = new URL(uri);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Starts a command from the repository root and waits for embedded-mongo's listening line. */
function start(command: string, args: string[]): Promise<{ child: ChildProcess; uri: string; output(): string }> {
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /embedded-mongo listening on (\S+)/.exec(output);
      if (match?.[1]) resolve({ child, uri: match[1], output: () => output });
    });
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}: ${output}`)));
  });
}

async function writeSome(uri: string): Promise<void> {
  const client = new MongoClient(`${uri}/db`);
  await client.connect();
  await client
    .db()
    .collection('c')
    .insertMany(Array.from({ length: 5 }, (_, i) => ({ i })));
  await client.close();
}

async function countAfterRestart(dir: string): Promise<number> {
  const server = await startEmbeddedMongo({ dbPath: dir });
  const client = new MongoClient(`${server.uri}/db`);
  try {
    await client.connect();
    return await client.db().collection('c').countDocuments();
  } finally {
    await client.close();
    await server.stop();
  }
}

describe('running standalone as the README says', () => {
  let temp: ReturnType<typeof tempDir>;
  const started: ChildProcess[] = [];
  /** Servers started through npx (grandchildren), killed after the test if still there. */
  const servers: number[] = [];
  beforeEach(() => {
    temp = tempDir();
  });
  afterEach(() => {
    for (const child of started.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    for (const pid of servers.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // stopped, as it should have
      }
    }
    temp.remove();
  });

  it('node_modules/.bin/embedded-mongo stops cleanly on SIGTERM and releases the data directory', async () => {
    const bin = await start(path.join(ROOT, 'node_modules', '.bin', 'embedded-mongo'), [
      '--port',
      '0',
      '--dbpath',
      temp.dir,
    ]);
    started.push(bin.child);
    await writeSome(bin.uri);
    // It is the process the signal reaches: no shell in between.
    expect(readFileSync(path.join(temp.dir, 'embedded-mongo.lock'), 'utf8')).toBe(`${bin.child.pid}\n`);
    bin.child.kill('SIGTERM');
    expect(await exitOf(bin.child)).toBe(0);
    expect(existsSync(path.join(temp.dir, 'embedded-mongo.lock'))).toBe(false);
    expect(await countAfterRestart(temp.dir)).toBe(5);
  });

  it('npx embedded-mongo stops cleanly when the npx process gets SIGTERM, instead of running on orphaned', async () => {
    const npx = await start('npx', ['--no-install', 'embedded-mongo', '--port', '0', '--dbpath', temp.dir]);
    started.push(npx.child);
    await writeSome(npx.uri);
    // npm runs the bin through a shell: the server is a grandchild, not the process signalled.
    const server = Number(readFileSync(path.join(temp.dir, 'embedded-mongo.lock'), 'utf8'));
    servers.push(server);
    expect(server).not.toBe(npx.child.pid);
    npx.child.kill('SIGTERM');
    await exitOf(npx.child);
    // It stopped: the data directory released (the lock file goes last), the port closed.
    await until(
      () => !existsSync(path.join(temp.dir, 'embedded-mongo.lock')),
      `embedded-mongo (pid ${server}) to stop`,
    );
    await until(async () => !(await listening(npx.uri)), 'the port to close');
    expect(await countAfterRestart(temp.dir)).toBe(5);
  });
});
