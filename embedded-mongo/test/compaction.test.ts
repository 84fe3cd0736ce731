import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { MongoClient, type Collection, type Document } from 'mongodb';
import { startEmbeddedMongo, type EmbeddedMongoOptions } from '../src';
import { exitOf, killSpawned, tempDir } from './support';

const FIXTURE = path.join(__dirname, 'fixtures', 'journaled-server.js');

async function connect(uri: string): Promise<MongoClient> {
  const client = new MongoClient(`${uri}/db`, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  return client;
}

/** Every document of every collection in database `db`, by collection. */
async function contents(options: EmbeddedMongoOptions): Promise<Record<string, Document[]>> {
  const server = await startEmbeddedMongo(options);
  const client = await connect(server.uri);
  try {
    const out: Record<string, Document[]> = {};
    for (const { name } of await client.db().listCollections().toArray()) {
      out[name] = await client.db().collection(name).find({}).sort({ _id: 1 }).toArray();
    }
    return out;
  } finally {
    await client.close();
    await server.stop();
  }
}

describe('background compaction', () => {
  let temp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    temp = tempDir();
  });
  afterEach(() => {
    killSpawned();
    temp.remove();
  });

  it('keeps answering commands while a compaction is writing the snapshot', async () => {
    const events: string[] = [];
    let started!: () => void;
    const compacting = new Promise<void>((resolve) => (started = resolve));
    let finished!: () => void;
    const compacted = new Promise<void>((resolve) => (finished = resolve));
    const server = await startEmbeddedMongo({
      dbPath: temp.dir,
      compactThresholdBytes: 100_000,
      compactChunkBytes: 1, // one record per turn of the event loop
      log: (m) => {
        if (m.startsWith('compacting the journal')) {
          events.push('compaction started');
          started();
        } else if (m.startsWith('compacted the journal')) {
          events.push('compaction finished');
          finished();
        }
      },
    });
    const client = await connect(server.uri);
    try {
      const c = client.db().collection<{ _id: number | string; k: number; pad?: string; changed?: boolean }>('c');
      await c.createIndex({ k: 1 }, { unique: true });
      // One command whose journal records cross the threshold: the compaction starts as it commits.
      await c.insertMany(Array.from({ length: 2000 }, (_, i) => ({ _id: i, k: i, pad: 'x'.repeat(40) })));
      await compacting;
      expect(events).toEqual(['compaction started']);
      await c.insertOne({ _id: 'during', k: -1 });
      events.push('insert answered');
      expect(await c.findOne({ _id: 'during' })).toMatchObject({ k: -1 });
      await c.updateOne({ _id: 0 }, { $set: { changed: true } });
      events.push('find and update answered');
      await compacted;
      expect(events).toEqual([
        'compaction started',
        'insert answered',
        'find and update answered',
        'compaction finished',
      ]);
    } finally {
      await client.close();
      await server.stop();
    }
    const files = readdirSync(temp.dir).filter((f) => f.endsWith('.bson'));
    expect(files.sort()).toEqual(['journal-1.bson', 'snapshot-1.bson']);
    // The writes made during the compaction are in journal-1, after the snapshot.
    const { c } = await contents({ dbPath: temp.dir });
    expect(c).toHaveLength(2001);
    expect(c?.find((d) => d['_id'] === 0)).toMatchObject({ changed: true });
    expect(c?.find((d) => d['_id'] === 'during')).toMatchObject({ k: -1 });
  });

  it('leaves a directory that restores exactly the acknowledged state, whenever a crash happens', async () => {
    // The directory is copied at every moment a crash could leave it: as the compaction starts
    // (right after writes switch to the new journal), after each write acknowledged while it
    // runs, and once it has finished. Each copy must load to exactly what was acknowledged then.
    const copies: { dir: string; expected: Record<string, number>[] }[] = [];
    const model: Record<string, number> = {};
    /** The write sent and not yet answered: it may or may not have been committed yet. */
    let inFlight: [string, number] | undefined;
    let committing = false;
    const copy = () => {
      const dir = path.join(temp.dir, `copy-${copies.length}`);
      // The compaction renames and deletes files from the thread pool while this copies: a file
      // gone mid-copy means the directory changed under it, so it copies again.
      for (let attempt = 0; ; attempt++) {
        try {
          rmSync(dir, { recursive: true, force: true });
          cpSync(path.join(temp.dir, 'live'), dir, { recursive: true });
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 20) throw error;
        }
      }
      const withInFlight = { ...model, ...(inFlight ? { [inFlight[0]]: inFlight[1] } : {}) };
      // Inside a commit the write in flight is already durable; between commands it may not be yet.
      copies.push({ dir, expected: committing ? [withInFlight] : [{ ...model }, withInFlight] });
    };
    let compacting = false;
    let finished = false;
    const server = await startEmbeddedMongo({
      dbPath: path.join(temp.dir, 'live'),
      compactThresholdBytes: 30_000,
      compactChunkBytes: 200,
      log: (m) => {
        if (m.startsWith('compacting the journal')) {
          compacting = true;
          committing = true; // this line is logged from inside the commit that starts the compaction
          copy();
          committing = false;
        } else if (m.startsWith('compacted the journal')) {
          compacting = false;
          finished = true;
          copy();
        }
      },
    });
    const client = await connect(server.uri);
    try {
      const c: Collection<{ _id: string; n: number }> = client.db().collection('counters');
      for (let i = 0, after = 0; after < 20 && i < 20_000; i++) {
        const id = `k${i % 150}`;
        inFlight = [id, (model[id] ?? 0) + 1];
        await c.updateOne({ _id: id }, { $inc: { n: 1 } }, { upsert: true });
        model[id] = inFlight[1];
        inFlight = undefined;
        if (compacting) copy();
        if (finished) after++;
      }
    } finally {
      await client.close();
      await server.stop();
    }
    // At least the start, some writes during the compaction, and the end.
    expect(copies.length).toBeGreaterThan(3);
    for (const { dir, expected } of copies) {
      const { counters } = await contents({ dbPath: dir });
      const actual = Object.fromEntries((counters ?? []).map((d) => [d['_id'] as string, d['n'] as number]));
      expect(expected).toContainEqual(actual);
    }
  });

  it('loses no acknowledged write, and replays none twice, when SIGKILLed during or after compactions', async () => {
    const dir = path.join(temp.dir, 'db');
    const acked = new Set<string>();
    const counters = Array.from({ length: 6 }, () => ({ acked: 0, attempted: 0 }));
    let killedWhileCompacting = 0;
    let compactions = 0;
    const check = async (client: MongoClient) => {
      const db = client.db();
      const ids = new Set((await db.collection('docs').find({}).project({ _id: 1 }).toArray()).map((d) => d._id));
      const lost = [...acked].filter((id) => !ids.has(id));
      expect(lost).toEqual([]);
      for (const [w, counter] of counters.entries()) {
        const n = ((await db.collection('counters').findOne({ _id: w as never })) as Document | null)?.['n'] ?? 0;
        expect(n).toBeGreaterThanOrEqual(counter.acked);
        expect(n).toBeLessThanOrEqual(counter.attempted);
      }
      expect(await db.collection('docs').countDocuments()).toBe(ids.size);
      expect((await db.collection('docs').distinct('k')).length).toBe(ids.size);
    };
    for (let round = 0; round < 6; round++) {
      const child: ChildProcess = spawn(process.execPath, [FIXTURE, dir, '60000', '1'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let onLine: (line: string) => void = () => undefined;
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        for (const line of chunk.toString().split('\n')) onLine(line);
      });
      const uri = await new Promise<string>((resolve, reject) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          const match = /listening on (\S+)/.exec(chunk.toString());
          if (match?.[1]) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
      });
      const client = await connect(uri);
      if (round === 0) await client.db().collection('docs').createIndex({ k: 1 }, { unique: true });
      await check(client);
      // Kill as a compaction starts, as one finishes, or at a random moment.
      const kind = round % 3;
      const kill = new Promise<void>((resolve) => {
        const at = (ms: number) => setTimeout(resolve, ms);
        if (kind === 0) onLine = (line) => line.startsWith('compacting') && at(Math.random() * 20);
        else if (kind === 1) onLine = (line) => line.startsWith('compacted') && at(0);
        else at(200 + Math.random() * 500);
        setTimeout(resolve, 8000); // a compaction that never comes does not hang the test
      });
      let stop = false;
      const writers = counters.map(async (counter, w) => {
        for (let i = 0; !stop; i++) {
          try {
            if (i % 2 === 0) {
              const id = `r${round}w${w}i${i}`;
              await client
                .db()
                .collection('docs')
                .insertOne({ _id: id as never, k: id, pad: 'x'.repeat(100) });
              acked.add(id);
            } else {
              counter.attempted++;
              await client
                .db()
                .collection('counters')
                .updateOne({ _id: w as never }, { $inc: { n: 1 } }, { upsert: true });
              counter.acked++;
            }
          } catch {
            return; // the server is gone
          }
        }
      });
      await kill;
      child.kill('SIGKILL');
      stop = true;
      await exitOf(child);
      await Promise.all(writers);
      await client.close(true);
      const started = stderr.lastIndexOf('compacting the journal');
      if (started >= 0 && stderr.indexOf('compacted the journal', started) < 0) killedWhileCompacting++;
      compactions += stderr.split('compacted the journal').length - 1;
    }
    // Every crash left a directory the next round started from; a last start checks the final state.
    const last = await startEmbeddedMongo({ dbPath: dir });
    const client = await connect(last.uri);
    try {
      await check(client);
    } finally {
      await client.close();
      await last.stop();
    }
    expect(killedWhileCompacting).toBeGreaterThan(0);
    expect(compactions).toBeGreaterThan(0);
  }, 90_000);
});
