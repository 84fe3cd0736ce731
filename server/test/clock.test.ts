import { Clock } from '../src/infra/clock';

describe('the cluster clock', () => {
  afterEach(() => jest.restoreAllMocks());

  it('is the wall clock until it has a reference', () => {
    const clock = new Clock();
    jest.spyOn(Date, 'now').mockReturnValue(1_000_000);
    expect(clock.now()).toBe(1_000_000);
  });

  it('counts from its reference, and a jump of the wall clock does not move it', async () => {
    const clock = new Clock();
    const reference = Date.now() - 3600_000;
    const ahead = await clock.sync(() => Promise.resolve(new Date(reference)));
    expect(ahead).toBeGreaterThan(3500_000);
    const before = clock.now();
    expect(before - reference).toBeGreaterThanOrEqual(0);
    const real = Date.now();
    for (const jump of [5 * 3600_000, -5 * 3600_000]) {
      jest.spyOn(Date, 'now').mockReturnValue(real + jump);
      // Still an hour behind the real time, as the reference is: only time passing moves it.
      expect(clock.now() - before).toBeGreaterThanOrEqual(0);
      expect(clock.now() - before).toBeLessThan(60_000);
    }
  });

  it('keeps a good reading over a slow one', async () => {
    const clock = new Clock();
    const reference = Date.now() - 3600_000;
    await clock.sync(() => Promise.resolve(new Date(reference)));
    // The reading takes 1.5 s of the (faked) monotonic clock.
    jest.useFakeTimers({ now: Date.now() });
    try {
      const slow = clock.sync(() => new Promise<Date>((resolve) => setTimeout(() => resolve(new Date(0)), 1500)));
      jest.advanceTimersByTime(1500);
      await slow;
    } finally {
      jest.useRealTimers();
    }
    expect(Math.abs(clock.now() - reference)).toBeLessThan(60_000);
  });
});
