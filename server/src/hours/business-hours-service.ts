import { WEEKDAYS, type BusinessHours, type BusinessHoursInput, type Weekday } from '@parley/protocol';
import { TtlCache } from '../infra/ttl-cache';
import type { BusinessHoursDoc, BusinessHoursModel } from './business-hours-model';

function emptyWeek(): Record<Weekday, []> {
  return Object.fromEntries(WEEKDAYS.map((day) => [day, []])) as unknown as Record<Weekday, []>;
}

/** Until an owner sets hours: always open, no away message. */
export function defaultBusinessHours(): BusinessHours {
  return { enabled: false, timeZone: 'UTC', weekly: emptyWeek(), closedDates: [], askForEmailWhenAway: false };
}

function toBusinessHours(doc: BusinessHoursDoc | null): BusinessHours {
  if (!doc) return defaultBusinessHours();
  const weekly = emptyWeek() as BusinessHours['weekly'];
  for (const day of WEEKDAYS) weekly[day] = (doc.weekly[day] ?? []).map((i) => ({ from: i.from, to: i.to }));
  return {
    enabled: doc.enabled,
    timeZone: doc.timeZone,
    weekly,
    closedDates: [...doc.closedDates],
    ...(doc.awayMessage ? { awayMessage: doc.awayMessage } : {}),
    askForEmailWhenAway: doc.askForEmailWhenAway,
  };
}

/**
 * Read by every widget load and conversation start: cached per node for a few seconds, so a change
 * shows everywhere within that time (and at once on the node that made it).
 */
const CACHE_FRESH_MS = 5_000;
const CACHE_MAX_AGE_MS = 60_000;

/** A project's business hours and away settings. */
export class BusinessHoursService {
  private readonly cache = new TtlCache<BusinessHours>(CACHE_FRESH_MS, CACHE_MAX_AGE_MS);

  constructor(private readonly hours: BusinessHoursModel) {}

  async get(projectId: string): Promise<BusinessHours> {
    const hours = toBusinessHours(await this.hours.findById(projectId).lean<BusinessHoursDoc>().exec());
    this.cache.set(projectId, hours);
    return hours;
  }

  async getCached(projectId: string): Promise<BusinessHours> {
    const hit = this.cache.peek(projectId);
    if (hit?.fresh) return hit.value;
    if (hit) {
      this.get(projectId).catch(() => this.cache.delete(projectId));
      return hit.value;
    }
    return this.get(projectId);
  }

  /** Replaces the settings: a day left out is closed, a field left out takes its default. */
  async replace(projectId: string, input: BusinessHoursInput): Promise<BusinessHours> {
    const weekly = emptyWeek() as BusinessHours['weekly'];
    for (const day of WEEKDAYS) weekly[day] = input.weekly?.[day] ?? [];
    const doc: Omit<BusinessHoursDoc, '_id'> = {
      enabled: input.enabled,
      timeZone: input.timeZone,
      weekly,
      closedDates: [...new Set(input.closedDates ?? [])].sort(),
      ...(input.awayMessage !== undefined ? { awayMessage: input.awayMessage } : {}),
      askForEmailWhenAway: input.askForEmailWhenAway ?? false,
      updatedAt: new Date(),
    };
    const stored = await this.hours
      .findOneAndReplace({ _id: projectId }, { _id: projectId, ...doc }, { upsert: true, returnDocument: 'after' })
      .lean<BusinessHoursDoc>()
      .exec();
    const hours = toBusinessHours(stored);
    this.cache.set(projectId, hours);
    return hours;
  }
}
