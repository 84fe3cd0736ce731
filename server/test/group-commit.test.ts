import { GroupCommit } from '../src/messages/group-commit';

interface Request {
  key: string;
  id: number;
}

/** Polls: the batches run on their own schedule (setImmediate), whatever the machine's load. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
}

describe('GroupCommit', () => {
  it('writes what arrives together as one batch, at most one request per key, keys in order', async () => {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const commit = new GroupCommit<Request>(
      async (batch) => {
        batches.push(batch.map((r) => r.id));
        if (batches.length === 1) await gate;
      },
      { maxBatch: 3, maxInFlight: 1 },
    );
    commit.submit({ key: 'a', id: 1 });
    await new Promise((r) => setImmediate(r));
    // While batch [1] is being written these wait, then go in batches of distinct keys.
    for (const [key, id] of [
      ['a', 2],
      ['b', 3],
      ['a', 4],
      ['c', 5],
      ['d', 6],
    ] as const)
      commit.submit({ key, id });
    release();
    await until(() => batches.length === 3);
    expect(batches).toEqual([[1], [2, 3, 5], [4, 6]]);
    expect(commit.pending).toBe(0);
  });

  it('keeps going after a batch fails', async () => {
    const seen: number[] = [];
    const commit = new GroupCommit<Request>(
      async (batch) => {
        seen.push(...batch.map((r) => r.id));
        if (batch.some((r) => r.id === 1)) throw new Error('boom');
      },
      { maxBatch: 10, maxInFlight: 1 },
    );
    commit.submit({ key: 'a', id: 1 });
    await until(() => seen.length === 1);
    commit.submit({ key: 'a', id: 2 });
    await until(() => seen.length === 2);
    expect(seen).toEqual([1, 2]);
  });
});
