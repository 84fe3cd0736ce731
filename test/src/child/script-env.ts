/** What the test hands a child script, through its environment. */
export function env(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds (or throws after `timeoutMs`, which fails the script). */
export async function until(
  what: string,
  check: () => boolean,
  timeoutMs = 20_000,
  describe?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${describe ? `: ${describe()}` : ''}`);
    await sleep(20);
  }
}

/** The script's outcome, for the test to read. */
export function report(result: unknown): void {
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/** A failed script exits non-zero with its error; it never hangs on a rejection. */
export function run(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error('script failed:', error);
    process.exit(2);
  });
}
