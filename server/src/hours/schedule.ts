import { WEEKDAYS, type BusinessHours, type Weekday } from '@parley/protocol';

/** A moment as a clock on the wall of the project's time zone shows it. */
interface LocalTime {
  year: number;
  month: number;
  day: number;
  /** Minutes since local midnight. */
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

function localTime(at: Date, timeZone: string): LocalTime & { seconds: number } {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(at)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts['year'] ?? 1970,
    month: parts['month'] ?? 1,
    day: parts['day'] ?? 1,
    minutes: (parts['hour'] ?? 0) * 60 + (parts['minute'] ?? 0),
    seconds: parts['second'] ?? 0,
  };
}

/** `YYYY-MM-DD` of a local day. */
function dateKey({ year, month, day }: Pick<LocalTime, 'year' | 'month' | 'day'>): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** The weekday of a calendar day (the calendar is the same everywhere; only the clock differs). */
function weekdayOf({ year, month, day }: Pick<LocalTime, 'year' | 'month' | 'day'>): Weekday {
  // getUTCDay: 0 is Sunday; WEEKDAYS starts on Monday.
  return WEEKDAYS[(new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7] as Weekday;
}

function minutesOf(time: string): number {
  const [h, m] = time.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/** How far the zone's clock is ahead of UTC at `at`, in ms. */
function offsetAt(at: number, timeZone: string): number {
  const local = localTime(new Date(at), timeZone);
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, 0, local.minutes, local.seconds);
  return asUtc - Math.floor(at / 1000) * 1000;
}

const DAY_MS = 86_400_000;

/** What the zone's clock shows at `at`, as if that wall-clock time were UTC (ms). */
function wallAt(at: number, timeZone: string): number {
  return at + offsetAt(at, timeZone);
}

/**
 * The instants the zone's clock starts showing a local wall-clock time, earliest first. Each offset
 * in force near it (a day either side: no zone is 14 hours off UTC or more) gives a candidate, kept
 * when the clock does show that time then: two when clocks went back (the time happens twice), one
 * on most days. A time clocks skipped forward over never shows: the clock reaches it when it jumps
 * past it, the one instant returned then.
 */
function instantsOf(local: LocalTime, timeZone: string): number[] {
  const wall = Date.UTC(local.year, local.month - 1, local.day, 0, local.minutes);
  const candidates = [wall - offsetAt(wall - DAY_MS, timeZone), wall - offsetAt(wall + DAY_MS, timeZone)];
  const shown = [...new Set(candidates)].filter((t) => wallAt(t, timeZone) === wall).sort((a, b) => a - b);
  if (shown.length > 0) return shown;
  // Skipped: before the jump the clock reads earlier than `wall`, after it later. The jump is found
  // to the second (the clock's resolution here) between the two candidates.
  let [low, high] = candidates.sort((a, b) => a - b) as [number, number];
  if (wallAt(low, timeZone) >= wall || wallAt(high, timeZone) < wall) return [];
  while (high - low > 1000) {
    const mid = low + Math.floor((high - low) / 2000) * 1000;
    if (wallAt(mid, timeZone) >= wall) high = mid;
    else low = mid;
  }
  return [high];
}

/** Whether `at` falls within the project's opening hours (always, when they are not enabled). */
export function isWithinHours(hours: BusinessHours, at: Date): boolean {
  if (!hours.enabled) return true;
  const local = localTime(at, hours.timeZone);
  if (hours.closedDates.includes(dateKey(local))) return false;
  return hours.weekly[weekdayOf(local)].some(
    (interval) => minutesOf(interval.from) <= local.minutes && local.minutes < minutesOf(interval.to),
  );
}

/** The next moment after `at` when the hours open, looking up to `horizonDays` ahead; undefined if never. */
export function nextOpening(hours: BusinessHours, at: Date, horizonDays = 14): Date | undefined {
  if (!hours.enabled) return undefined;
  const today = localTime(at, hours.timeZone);
  for (let offset = 0; offset <= horizonDays; offset++) {
    // Calendar arithmetic on the local date: Date.UTC normalizes day overflow into the next month.
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
    const day = { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
    if (hours.closedDates.includes(dateKey(day))) continue;
    const instants = hours.weekly[weekdayOf(day)]
      .flatMap((interval) => instantsOf({ ...day, minutes: minutesOf(interval.from) }, hours.timeZone))
      .sort((a, b) => a - b);
    // An interval clocks skipped over entirely never opens; one the jump lands in opens at the jump.
    const next = instants.find((instant) => instant > at.getTime() && isWithinHours(hours, new Date(instant)));
    if (next !== undefined) return new Date(next);
  }
  return undefined;
}
