import { KeyedQueue } from '../src/infra/keyed-queue';

describe('KeyedQueue', () => {
  it('runs tasks of one key one at a time in call order, and other keys alongside', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const task = (key: string, id: number, delay: number) =>
      queue.run(key, async () => {
        log.push(`${key}${id}:start`);
        await new Promise((r) => setTimeout(r, delay));
        log.push(`${key}${id}:end`);
        return id;
      });
    const results = await Promise.all([task('a', 1, 30), task('a', 2, 1), task('b', 1, 5), task('a', 3, 1)]);
    expect(results).toEqual([1, 2, 1, 3]);
    const a = log.filter((l) => l.startsWith('a'));
    expect(a).toEqual(['a1:start', 'a1:end', 'a2:start', 'a2:end', 'a3:start', 'a3:end']);
    expect(log.indexOf('b1:start')).toBeLessThan(log.indexOf('a1:end'));
    expect(queue.size).toBe(0);
  });

  it('keeps going after a task fails', async () => {
    const queue = new KeyedQueue();
    const failed = queue.run('k', () => Promise.reject(new Error('boom')));
    const next = queue.run('k', async () => 'ok');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ok');
  });
});
