// Preloaded into a server process (`node --require …/clock-jump.js server/dist/main.js`): its wall
// clock (`Date`) jumps when the test says so, as an NTP step, a resumed VM or a hand-set clock
// moves it. The monotonic clock (`performance.now`, timers) is left alone, as such jumps leave it.
//
// The test writes the new offset (milliseconds, may be negative) to CLOCK_JUMP_FILE and sends
// SIGUSR2; the process prints `clock jumped to <offset> (<n>)`, n counting the jumps, once `Date`
// runs at the new offset.
import { readFileSync } from 'node:fs';

const RealDate = Date;
let offset = 0;
let jumps = 0;

class JumpingDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + offset);
    else super(...(args as [string | number | Date]));
  }

  static override now(): number {
    return RealDate.now() + offset;
  }

  // Dates made before the jump, or by Node itself, are dates too.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof RealDate;
  }
}

// Libraries recognise the type by its name (mongoose's `{ type: Date }`).
Object.defineProperty(JumpingDate, 'name', { value: 'Date' });
globalThis.Date = JumpingDate as DateConstructor;

process.on('SIGUSR2', () => {
  const file = process.env['CLOCK_JUMP_FILE'];
  if (!file) return;
  offset = Number(readFileSync(file, 'utf8').trim());
  jumps++;
  process.stdout.write(`clock jumped to ${offset} (${jumps})\n`);
});
