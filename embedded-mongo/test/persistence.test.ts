import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { serialize, type Document } from 'bson';
import { MongoClient } from 'mongodb';
import { startEmbeddedMongo, type EmbeddedMongoOptions } from '../src';
import { Engine } from '../src/storage/engine';
import { Journal } from '../src/storage/journal';
import { exitOf, killSpawned, runBin, startBin, tempDir } from './support';

const RACE_FIXTURE = path.join(__dirname, 'fixtures', 'race-start.js');

/** Starts a server on `dir`, runs `body` with a client on database `db`, stops it. */
async function withServer<T>(
  options: EmbeddedMongoOptions,
  body: (db: ReturnType<MongoClient['db']>) => Promise<T>,
): Promise<T> {
  const server = await startEmbeddedMongo(options);
  const client = new MongoClient(`${server.uri}/db`);
  try {
    await client.connect();
    return await body(client.db());
  } finally {
    await client.close();
    await server.stop();
  }
}

describe('persistence', () => {
  let temp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    temp = tempDir();
  });
  afterEach(() => {
    killSpawned();
    temp.remove();
  });

  it('loses nothing acknowledged when the process is killed with SIGKILL', async () => {
    const first = await startBin(['--port', '0', '--dbpath', temp.dir]);
    expect(first.stdout()).toMatch(/^embedded-mongo listening on mongodb:\/\/127\.0\.0\.1:\d+ \(dbpath .+\)\n$/);
    const client = new MongoClient(`${first.uri}/durable`);
    await client.connect();
    const c = client.db().collection('things');
    await c.createIndex({ key: 1 }, { unique: true });
    for (let i = 0; i < 200; i++) await c.insertOne({ key: i, v: `v${i}` });
    await c.updateMany({ key: { $lt: 50 } }, { $set: { updated: true } });
    await c.deleteMany({ key: { $gte: 190 } });
    await c.findOneAndUpdate({ key: 7 }, { $inc: { hits: 1 } });
    await client.db().collection('dropped').insertOne({ x: 1 });
    await client.db().collection('dropped').drop();
    await client.close();
    first.child.kill('SIGKILL');
    await exitOf(first.child);

    const second = await startBin(['--port', '0', '--dbpath', temp.dir]);
    const again = new MongoClient(`${second.uri}/durable`);
    await again.connect();
    try {
      const d = again.db().collection('things');
      expect(await d.countDocuments()).toBe(190);
      expect(await d.countDocuments({ updated: true })).toBe(50);
      expect(await d.findOne({ key: 7 })).toMatchObject({ v: 'v7', updated: true, hits: 1 });
      // The unique index came back too, and the dropped collection stayed dropped.
      await expect(d.insertOne({ key: 1 })).rejects.toMatchObject({ code: 11000 });
      expect((await again.db().listCollections().toArray()).map((x) => x.name)).toEqual(['things']);
    } finally {
      await again.close();
      second.child.kill('SIGTERM');
      expect(await exitOf(second.child)).toBe(0);
    }
  });

  it('ignores a torn last record (a crash mid-write) and appends after it cleanly', async () => {
    await withServer({ dbPath: temp.dir }, async (db) => {
      await db.collection('c').insertMany([{ n: 1 }, { n: 2 }]);
    });
    const journal = readdirSync(temp.dir).find((f) => /^journal-\d+\.bson$/.test(f)) as string;
    expect(journal).toBeDefined();
    // The first 20 bytes of a real record: its length promises more than follows.
    const record = Buffer.from(serialize({ o: 'put', d: 'db', c: 'c', doc: { _id: 99, n: 99 } }));
    appendFileSync(path.join(temp.dir, journal), record.subarray(0, 20));
    const logged: string[] = [];
    await withServer({ dbPath: temp.dir, log: (m) => logged.push(m) }, async (db) => {
      expect(await db.collection('c').countDocuments()).toBe(2);
      await db.collection('c').insertOne({ n: 3 });
    });
    expect(logged.join('\n')).toMatch(/ignoring 20 bytes/);
    await withServer({ dbPath: temp.dir }, async (db) => {
      expect((await db.collection('c').find({}).sort({ n: 1 }).toArray()).map((d) => d['n'])).toEqual([1, 2, 3]);
    });
  });

  it('cuts off a zero-filled tail (a file extended but never written) like a torn record', async () => {
    await withServer({ dbPath: temp.dir }, async (db) => {
      await db.collection('c').insertMany([{ n: 1 }, { n: 2 }]);
    });
    appendFileSync(path.join(temp.dir, 'journal-0.bson'), Buffer.alloc(300));
    const logged: string[] = [];
    await withServer({ dbPath: temp.dir, log: (m) => logged.push(m) }, async (db) => {
      expect(await db.collection('c').countDocuments()).toBe(2);
      await db.collection('c').insertOne({ n: 3 });
    });
    expect(logged.join('\n')).toMatch(/ignoring 300 bytes/);
    await withServer({ dbPath: temp.dir }, async (db) => expect(await db.collection('c').countDocuments()).toBe(3));
  });

  it('refuses to start on damage in the middle of the journal instead of dropping the records after it', async () => {
    await withServer({ dbPath: temp.dir }, async (db) => {
      for (let i = 0; i < 5; i++)
        await db.collection<{ _id: number; v: string }>('c').insertOne({ _id: i, v: 'x'.repeat(20) });
    });
    const file = path.join(temp.dir, 'journal-0.bson');
    const original = readFileSync(file);
    const sizes: number[] = [];
    for (let offset = 0; offset < original.length; offset += original.readInt32LE(offset)) sizes.push(offset);
    expect(sizes.length).toBeGreaterThanOrEqual(6); // the collection's creation, then five documents
    const second = sizes[2] as number;
    const damages: [string, (b: Buffer) => void][] = [
      ['a bad length', (b) => b.writeInt32LE(3, second)],
      ['a length running into the next record', (b) => b.writeInt32LE(b.readInt32LE(second) + 7, second)],
      ['a missing final zero', (b) => (b[sizes[3]! - 1] = 1)],
      ['invalid BSON inside a record', (b) => (b[second + 4] = 0x7f)],
    ];
    for (const [what, damage] of damages) {
      const copy = Buffer.from(original);
      damage(copy);
      writeFileSync(file, copy);
      const refusal = await startEmbeddedMongo({ dbPath: temp.dir }).then(
        (server) => server.stop().then(() => `started despite ${what}`),
        (error: Error) => error.message,
      );
      expect(refusal).toMatch(/^journal-0\.bson in .* is damaged at byte \d+ of \d+ .*refusing to start/);
      // Nothing was cut off, and the lock was released.
      expect(readFileSync(file).equals(copy)).toBe(true);
      expect(readdirSync(temp.dir)).not.toContain('embedded-mongo.lock');
    }
    writeFileSync(file, original);
    await withServer({ dbPath: temp.dir }, async (db) => expect(await db.collection('c').countDocuments()).toBe(5));
  });

  it('compacts the journal into a snapshot, keeping documents, indexes and metadata', async () => {
    await withServer({ dbPath: temp.dir, compactThresholdBytes: 20_000 }, async (db) => {
      const c = db.collection('c');
      await c.createIndex({ k: 1 }, { unique: true });
      await c.createIndex({ when: 1 }, { expireAfterSeconds: 3600 });
      for (let i = 0; i < 600; i++) await c.updateOne({ k: i % 30 }, { $set: { v: i } }, { upsert: true });
      await db.collection('gone').insertOne({ x: 1 });
      await db.collection('gone').drop();
    });
    const files = readdirSync(temp.dir).sort();
    const snapshot = files.find((f) => /^snapshot-\d+\.bson$/.test(f));
    expect(snapshot).toBeDefined();
    const generation = Number(/(\d+)/.exec(snapshot as string)?.[1]);
    expect(generation).toBeGreaterThan(0);
    // Only the current generation is left.
    expect(files.filter((f) => f.endsWith('.bson'))).toEqual([
      `journal-${generation}.bson`,
      `snapshot-${generation}.bson`,
    ]);
    expect(statSync(path.join(temp.dir, `journal-${generation}.bson`)).size).toBeLessThan(20_000);

    await withServer({ dbPath: temp.dir }, async (db) => {
      const d = db.collection('c');
      expect(await d.countDocuments()).toBe(30);
      expect(await d.findOne({ k: 29 })).toMatchObject({ v: 599 });
      await expect(d.insertOne({ k: 0 })).rejects.toMatchObject({ code: 11000 });
      const indexes = await d.listIndexes().toArray();
      expect(indexes.map((i) => i['name'])).toEqual(['_id_', 'k_1', 'when_1']);
      expect(indexes[2]).toMatchObject({ expireAfterSeconds: 3600 });
      expect((await db.listCollections().toArray()).map((x) => x.name)).toEqual(['c']);
    });
  });

  it('recovers from a crash at any point of a compaction, replaying nothing twice', async () => {
    await withServer({ dbPath: temp.dir, compactThresholdBytes: 5_000 }, async (db) => {
      await db.collection('c').createIndex({ k: 1 }, { unique: true });
      for (let i = 0; i < 200; i++)
        await db.collection('c').updateOne({ k: i % 10 }, { $inc: { n: 1 } }, { upsert: true });
    });
    const generation = Number(/snapshot-(\d+)/.exec(readdirSync(temp.dir).join(' '))?.[1]);
    // Leftovers a crash could leave: a half-written next snapshot, and the previous generation's
    // journal (crash after the rename, before the old files were deleted). Replaying that old
    // journal over the new snapshot would double the counters and break the unique index.
    writeFileSync(path.join(temp.dir, `snapshot-${generation + 1}.bson.tmp`), Buffer.from([1, 2, 3]));
    const stale = Buffer.concat(
      Array.from({ length: 5 }, (_, i) =>
        Buffer.from(serialize({ o: 'put', d: 'db', c: 'c', doc: { _id: `stale${i}`, k: 1 } })),
      ),
    );
    writeFileSync(path.join(temp.dir, `journal-${generation - 1}.bson`), stale);
    await withServer({ dbPath: temp.dir }, async (db) => {
      const docs = await db.collection('c').find({}).sort({ k: 1 }).toArray();
      expect(docs.map((d) => [d['k'], d['n']])).toEqual(Array.from({ length: 10 }, (_, k) => [k, 20]));
    });
    expect(readdirSync(temp.dir).filter((f) => f.endsWith('.tmp') || f === `journal-${generation - 1}.bson`)).toEqual(
      [],
    );
  });

  it('acknowledges no write once the journal cannot be written, undoing what it did, and keeps serving reads', async () => {
    const journal = new Journal(temp.dir);
    const engine = new Engine(journal);
    await engine.open();
    const c = engine.createCollection('db', 'c', {});
    engine.insert(c, { _id: 1 });
    engine.createIndex(c, { name: 'a_1', key: { a: 1 } });
    engine.commit();
    // Pull the file out from under it, as a failing disk would (a descriptor number that cannot
    // be reused by anything else in this process).
    const handle = journal as unknown as { fd: number };
    const real = handle.fd;
    handle.fd = 2 ** 30;
    closeSync(real);
    const stored = c.get(1) as Document;
    // One failing command that changes everything it can: all of it is taken back.
    engine.insert(c, { _id: 2 });
    engine.replace(c, stored, { _id: 1, a: 'changed' });
    engine.dropIndex(c, 'a_1');
    engine.createIndex(c, { name: 'b_1', key: { b: 1 } });
    engine.createCollection('db', 'other', {});
    expect(() => engine.commit()).toThrow(/journal .* could not be written/);
    expect([...c.docs.values()]).toEqual([{ _id: 1 }]);
    expect(c.get(1)).toBe(stored);
    expect([...c.indexes.keys()]).toEqual(['_id_', 'a_1']);
    expect(engine.collections('db').map((x) => x.name)).toEqual(['c']);
    engine.commit(); // a read-only command after it commits nothing and succeeds
    engine.remove(c, stored);
    engine.dropCollection('db', 'c');
    expect(() => engine.commit()).toThrow(/could not be written/);
    expect(engine.collection('db', 'c')).toBe(c);
    expect([...c.docs.values()]).toEqual([stored]);
    expect(() => engine.close()).not.toThrow();
  });

  it('refuses a data directory another live process holds, and takes over a stale lock', async () => {
    const holder = await startBin(['--port', '0', '--dbpath', temp.dir]);
    try {
      await expect(startEmbeddedMongo({ dbPath: temp.dir })).rejects.toThrow(
        /in use by another embedded-mongo \(process \d+/,
      );
      const second = await runBin(['--port', '0', '--dbpath', temp.dir]);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/in use/);
    } finally {
      holder.child.kill('SIGKILL');
      await exitOf(holder.child);
    }
    // The killed holder left its lock file behind; its process is gone, so the lock is stale.
    expect(readdirSync(temp.dir)).toContain('embedded-mongo.lock');
    const server = await startEmbeddedMongo({ dbPath: temp.dir });
    await expect(startEmbeddedMongo({ dbPath: temp.dir })).rejects.toThrow(/already in use by this process/);
    await server.stop();
    expect(readdirSync(temp.dir)).not.toContain('embedded-mongo.lock');
  });

  it('gives a data directory to exactly one of several processes starting at once after a crash', async () => {
    for (let round = 0; round < 4; round++) {
      const dir = path.join(temp.dir, `round-${round}`);
      mkdirSync(dir);
      // The lock a killed process leaves: its pid no longer runs.
      writeFileSync(path.join(dir, 'embedded-mongo.lock'), `${spawnSync(process.execPath, ['-e', '']).pid}\n`);
      const startAt = Date.now() + 1000;
      const children = Array.from({ length: 6 }, () =>
        spawn(process.execPath, [RACE_FIXTURE, dir, String(startAt)], { stdio: ['ignore', 'pipe', 'inherit'] }),
      );
      try {
        const outcomes = await Promise.all(
          children.map(
            (child) =>
              new Promise<{ pid: number; line: string }>((resolve) => {
                let out = '';
                child.stdout.on('data', (chunk: Buffer) => {
                  out += chunk.toString();
                  if (out.includes('\n')) resolve({ pid: child.pid as number, line: out.trim() });
                });
              }),
          ),
        );
        const winners = outcomes.filter((o) => o.line.startsWith('listening on'));
        expect(winners).toHaveLength(1);
        const winner = winners[0]?.pid as number;
        for (const loser of outcomes.filter((o) => o.pid !== winner)) {
          expect(loser.line).toMatch(new RegExp(`^refused: .* in use by another embedded-mongo \\(process ${winner},`));
        }
        expect(readFileSync(path.join(dir, 'embedded-mongo.lock'), 'utf8')).toBe(`${winner}\n`);
      } finally {
        for (const child of children) child.kill('SIGKILL');
        await Promise.all(children.map(exitOf));
      }
    }
    // Four rounds of several node processes starting at once: a loaded 2-core machine needs more than 30 s.
  }, 120_000);

  it("keeps a live holder's directory even when its lock file looks stale (a takeover racing it)", async () => {
    const holder = await startBin(['--port', '0', '--dbpath', temp.dir]);
    try {
      // What a second process that read the file just before the holder took it over would see.
      const stale = `${spawnSync(process.execPath, ['-e', '']).pid}\n`;
      writeFileSync(path.join(temp.dir, 'embedded-mongo.lock'), stale);
      // Either would start (and be stopped) if it took the stale-looking file over.
      const inProcess = await startEmbeddedMongo({ dbPath: temp.dir }).then(
        (server) => server.stop().then(() => 'started'),
        (error: Error) => error.message,
      );
      expect(inProcess).toMatch(/in use by another embedded-mongo/);
      const standalone = await startBin(['--port', '0', '--dbpath', temp.dir]).then(
        (bin) => (bin.child.kill('SIGKILL'), 'started'),
        (error: Error) => error.message,
      );
      expect(standalone).toMatch(/^exited with 1:[^]*in use by another embedded-mongo/);
      // Neither took the file over.
      expect(readFileSync(path.join(temp.dir, 'embedded-mongo.lock'), 'utf8')).toBe(stale);
    } finally {
      holder.child.kill('SIGKILL');
      await exitOf(holder.child);
    }
    // Once the holder is gone, the directory is free again.
    const server = await startEmbeddedMongo({ dbPath: temp.dir });
    await server.stop();
  });

  it('runs standalone: --help, bad arguments, in-memory mode, graceful SIGTERM', async () => {
    const help = await runBin(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/usage: embedded-mongo/);
    for (const args of [['--port', 'abc'], ['--port', '70000'], ['--frob'], ['--dbpath']]) {
      const bad = await runBin(args);
      expect(bad.code).toBe(2);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
      expect(bad.stdout).toBe('');
    }
    const memory = await startBin(['--port', '0']);
    expect(memory.stdout()).toMatch(/listening on mongodb:\/\/127\.0\.0\.1:\d+ \(in memory\)/);
    memory.child.kill('SIGTERM');
    expect(await exitOf(memory.child)).toBe(0);
    // SIGTERM flushes: everything written before it is there at the next start.
    const durable = await startBin(['--port', '0', '--dbpath', temp.dir]);
    const client = new MongoClient(`${durable.uri}/db`);
    await client.connect();
    await client
      .db()
      .collection('c')
      .insertMany(Array.from({ length: 10 }, (_, i) => ({ i })));
    await client.close();
    durable.child.kill('SIGINT');
    expect(await exitOf(durable.child)).toBe(0);
    await withServer({ dbPath: temp.dir }, async (db) => expect(await db.collection('c').countDocuments()).toBe(10));
  });
});
