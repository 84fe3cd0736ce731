import { randomInt } from 'node:crypto';

/**
 * A small deterministic random source (mulberry32) for chaos tests: every random choice a test
 * makes (when to cut, which plan, how long to wait) comes from one seed, so a failing run can be
 * replayed with its seed. What the test does not choose (the OS scheduler, the SDK's own backoff
 * jitter and ids) still varies, so a replay repeats the scenario, not every interleaving.
 */
export interface SeededRandom {
  readonly seed: number;
  /** In [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(choices: readonly T[]): T;
}

export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (choices) => {
      if (choices.length === 0) throw new Error('nothing to pick from');
      return choices[Math.floor(next() * choices.length)] as (typeof choices)[number];
    },
  };
}

/** Most runs a loop may ask for: loops stay bounded even with a typo in the variable. */
const MAX_RUNS = 1000;

/**
 * The seeds a chaos test runs with, from the environment:
 * - `CHAOS_SEED=x` (several: `x,y`): replays exactly those;
 * - `CHAOS_RUNS=N`: N fresh random seeds (the fixed ones are left out: a search, not a replay);
 * - neither: the fixed regression seeds (seeds that once failed) and one fresh random seed.
 */
export function chaosSeeds(regressions: readonly number[] = [], env: NodeJS.ProcessEnv = process.env): number[] {
  const fixed = env['CHAOS_SEED'];
  if (fixed) {
    const seeds = fixed.split(',').map((s) => Number(s.trim()));
    if (seeds.some((s) => !Number.isInteger(s) || s < 0))
      throw new Error(`CHAOS_SEED is not a list of seeds: ${fixed}`);
    return seeds;
  }
  const runs = env['CHAOS_RUNS'] ? Number(env['CHAOS_RUNS']) : undefined;
  if (runs !== undefined && (!Number.isInteger(runs) || runs < 1 || runs > MAX_RUNS))
    throw new Error(`CHAOS_RUNS must be a whole number from 1 to ${MAX_RUNS}: ${env['CHAOS_RUNS']}`);
  const fresh = Array.from({ length: runs ?? 1 }, () => randomInt(0, 2 ** 31));
  return runs !== undefined ? fresh : [...regressions, ...fresh];
}

/**
 * Runs one seeded scenario: prints its seed first (so a hung or killed run still names it) and
 * puts the seed and the replay command on any failure.
 */
export async function withSeed<T>(
  testFile: string,
  seed: number,
  run: (random: SeededRandom) => Promise<T>,
): Promise<T> {
  process.stdout.write(`[chaos] ${testFile}: seed ${seed}\n`);
  try {
    return await run(seededRandom(seed));
  } catch (error) {
    const replay = `CHAOS_SEED=${seed} npx jest ${testFile}`;
    if (error instanceof Error) {
      error.message = `[chaos seed ${seed}; replay: ${replay}]\n${error.message}`;
      throw error;
    }
    throw new Error(`[chaos seed ${seed}; replay: ${replay}] ${String(error)}`);
  }
}
