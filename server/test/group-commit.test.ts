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
  it("writes what arrives together as one batch, each key's requests in order, never a key in two batches", async () => {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const commit = new GroupCommit<Request>(
      async (batch) => {
        batches.push(batch.map((r) => r.id));
        if (batches.length === 1) await gate;
      },
      { maxBatch: 4, maxInFlight: 2 },
    );
    commit.submit({ key: 'a', id: 1 });
    await until(() => batches.length === 1);
    // While batch [1] (key a) is being written, a second batch may start, but without key a.
    for (const [key, id] of [
      ['a', 2],
      ['b', 3],
      ['a', 4],
      ['c', 5],
      ['b', 6],
    ] as const)
      commit.submit({ key, id });
    await until(() => batches.length === 2);
    expect(batches[1]).toEqual([3, 5, 6]);
    release();
    await until(() => batches.length === 3);
    expect(batches[2]).toEqual([2, 4]);
    expect(commit.pending).toBe(0);
  });

  it('takes at most maxBatch, oldest first, and the rest in the next batch', async () => {
    const batches: number[][] = [];
    const commit = new GroupCommit<Request>(
      async (batch) => {
        batches.push(batch.map((r) => r.id));
      },
      { maxBatch: 2, maxInFlight: 1 },
    );
    for (const [key, id] of [
      ['a', 1],
      ['b', 2],
      ['b', 3],
      ['a', 4],
    ] as const)
      commit.submit({ key, id });
    await until(() => batches.length === 2);
    expect(batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
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
