import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { encodeRecord } from '../src/storage/records';
import { exitOf, killSpawned, rejection, startBin, tempDir, type BinProcess } from './support';

/**
 * Caps the size of any file the process writes (RLIMIT_FSIZE, soft limit only, so it can be
 * raised again): a disk that fills up at a chosen byte of the journal, without root or a mount.
 * Writes past it fail with EFBIG, a short write first when one straddles it.
 */
function limitFileSize(pid: number, bytes: number | 'unlimited'): void {
  const result = spawnSync('prlimit', ['--pid', String(pid), `--fsize=${bytes}:`], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`prlimit (util-linux) failed: ${result.error?.message ?? result.stderr}`);
  }
}

function journalPath(dir: string): string {
  const [newest] = readdirSync(dir)
    .filter((f) => /^journal-\d+\.bson$/.test(f))
    .sort((a, b) => Number(/\d+/.exec(b)?.[0]) - Number(/\d+/.exec(a)?.[0]));
  if (!newest) throw new Error(`no journal in ${dir}`);
  return path.join(dir, newest);
}

describe('a full disk under the journal', () => {
  let temp: ReturnType<typeof tempDir>;
  const clients: MongoClient[] = [];
  beforeEach(() => {
    temp = tempDir();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    killSpawned();
    temp.remove();
  });

  async function connect(bin: BinProcess) {
    const client = new MongoClient(`${bin.uri}/full`, { serverSelectionTimeoutMS: 5000 });
    clients.push(client);
    await client.connect();
    return client.db().collection<{ _id: string; n?: number; text?: string }>('c');
  }

  it('refuses a write with OutOfDiskSpace, keeps no part of it, serves reads, and takes writes again once there is room', async () => {
    const first = await startBin(['--port', '0', '--dbpath', temp.dir]);
    const c = await connect(first);
    await c.insertOne({ _id: 'before', n: 0 });
    const journal = journalPath(temp.dir);
    const size = statSync(journal).size;

    // Room for the first record of a three-document insert and a few bytes of the second: the
    // append is cut short, as on a disk that fills up in the middle of it.
    const docs = ['x1', 'x2', 'x3'].map((_id) => ({ _id, text: 'a message that takes room '.repeat(4) }));
    const firstRecord = encodeRecord({ o: 'put', d: 'full', c: 'c', doc: docs[0] as { _id: string } }).length;
    limitFileSize(first.child.pid as number, size + firstRecord + 10);

    const refused = await rejection(c.insertMany(docs));
    expect(refused).toMatchObject({ code: 14031, codeName: 'OutOfDiskSpace' });
    expect(refused.message).toMatch(/out of disk space .*the write was not applied/);
    // Nothing of the refused writes is left, in the file or in memory; reads go on.
    expect(statSync(journal).size).toBe(size);
    expect(await c.find({}).toArray()).toEqual([{ _id: 'before', n: 0 }]);
    // Not a byte left: the smallest write is refused too.
    limitFileSize(first.child.pid as number, size);
    await expect(c.updateOne({ _id: 'before' }, { $set: { n: 1 } })).rejects.toMatchObject({ code: 14031 });
    expect(await c.findOne({ _id: 'before' })).toEqual({ _id: 'before', n: 0 });

    limitFileSize(first.child.pid as number, 'unlimited');
    await c.insertOne({ _id: 'after', n: 2 });
    await c.updateOne({ _id: 'before' }, { $set: { n: 1 } });
    expect(first.stderr()).toMatch(/out of space .*refusing writes until there is room/);
    expect(first.stderr()).toMatch(/takes writes again/);

    // A restart replays exactly what was acknowledged.
    first.child.kill('SIGKILL');
    await exitOf(first.child);
    const second = await startBin(['--port', '0', '--dbpath', temp.dir]);
    const again = await connect(second);
    expect(await again.find({}).sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'after', n: 2 },
      { _id: 'before', n: 1 },
    ]);
    expect(second.stderr()).not.toMatch(/ignoring|damaged/);
  });
});
