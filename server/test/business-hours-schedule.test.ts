import type { BusinessHours } from '@parley/protocol';
import { defaultBusinessHours } from '../src/hours/business-hours-service';
import { isWithinHours, nextOpening } from '../src/hours/schedule';

/** Weekdays 09:00–17:00 in `timeZone`, Saturday morning, Sunday closed. */
function hours(timeZone: string, extra: Partial<BusinessHours> = {}): BusinessHours {
  const day = [{ from: '09:00', to: '17:00' }];
  return {
    ...defaultBusinessHours(),
    enabled: true,
    timeZone,
    weekly: {
      monday: day,
      tuesday: day,
      wednesday: day,
      thursday: day,
      friday: day,
      saturday: [{ from: '10:00', to: '12:00' }],
      sunday: [],
    },
    ...extra,
  };
}

describe('business hours', () => {
  it('are always open when not enabled', () => {
    expect(isWithinHours(defaultBusinessHours(), new Date('2025-06-01T03:00:00Z'))).toBe(true);
    expect(nextOpening(defaultBusinessHours(), new Date('2025-06-01T03:00:00Z'))).toBeUndefined();
  });

  it("read the clock of the project's time zone", () => {
    const paris = hours('Europe/Paris');
    // Monday 2 June 2025: Paris is UTC+2 (summer time). 07:30Z is 09:30 there; 15:30Z is 17:30.
    expect(isWithinHours(paris, new Date('2025-06-02T07:30:00Z'))).toBe(true);
    expect(isWithinHours(paris, new Date('2025-06-02T06:59:00Z'))).toBe(false);
    expect(isWithinHours(paris, new Date('2025-06-02T14:59:00Z'))).toBe(true);
    expect(isWithinHours(paris, new Date('2025-06-02T15:00:00Z'))).toBe(false);
    // Sunday is closed all day; Saturday 10:00–12:00 only.
    expect(isWithinHours(paris, new Date('2025-06-01T10:00:00Z'))).toBe(false);
    expect(isWithinHours(paris, new Date('2025-05-31T08:30:00Z'))).toBe(true);
    // The same instant is Sunday night in New York... and Monday morning in Tokyo.
    expect(isWithinHours(hours('Asia/Tokyo'), new Date('2025-06-01T23:30:00Z'))).toBe(false);
    expect(isWithinHours(hours('Asia/Tokyo'), new Date('2025-06-02T00:30:00Z'))).toBe(true);
  });

  it('are closed on closed dates, which are local days', () => {
    const paris = hours('Europe/Paris', { closedDates: ['2025-06-02'] });
    expect(isWithinHours(paris, new Date('2025-06-02T08:00:00Z'))).toBe(false);
    // 22:30Z on 1 June is already 2 June in Paris; 22:30Z on 2 June is 3 June (open at 09:00).
    expect(nextOpening(paris, new Date('2025-06-01T22:30:00Z'))?.toISOString()).toBe('2025-06-03T07:00:00.000Z');
  });

  it('say when they open next, across days and a change of daylight saving time', () => {
    const paris = hours('Europe/Paris');
    // Friday 17:30 in Paris: next is Saturday 10:00 (08:00Z in summer).
    expect(nextOpening(paris, new Date('2025-06-06T15:30:00Z'))?.toISOString()).toBe('2025-06-07T08:00:00.000Z');
    // Saturday 12:30: next is Monday 09:00.
    expect(nextOpening(paris, new Date('2025-06-07T10:30:00Z'))?.toISOString()).toBe('2025-06-09T07:00:00.000Z');
    // Clocks go back on Sunday 26 October 2025: Monday 09:00 is 08:00Z (UTC+1), not 07:00Z.
    expect(nextOpening(paris, new Date('2025-10-25T12:00:00Z'))?.toISOString()).toBe('2025-10-27T08:00:00.000Z');
    // Never within the horizon: no answer rather than a wrong one.
    const never = hours('UTC', {
      weekly: {
        ...hours('UTC').weekly,
        monday: [],
        tuesday: [],
        wednesday: [],
        thursday: [],
        friday: [],
        saturday: [],
      },
    });
    expect(nextOpening(never, new Date('2025-06-02T00:00:00Z'))).toBeUndefined();
  });

  it('open, on the day clocks change, when the clock shows the opening time', () => {
    const sunday = (timeZone: string, from: string, to: string) =>
      hours(timeZone, { weekly: { ...hours(timeZone).weekly, sunday: [{ from, to }] } });
    // Los Angeles springs forward on Sunday 9 March 2025 at 02:00 (10:00Z): 08:00 is PDT, 15:00Z.
    // (Once answered 16:00Z: the offset of the wall time read as UTC, still PST, was the one kept.)
    const la = sunday('America/Los_Angeles', '08:00', '12:00');
    expect(nextOpening(la, new Date('2025-03-08T20:00:00Z'))?.toISOString()).toBe('2025-03-09T15:00:00.000Z');
    // Paris falls back on Sunday 26 October 2025, 03:00 CEST to 02:00 CET: 02:30 shows first at 00:30Z.
    const back = sunday('Europe/Paris', '02:30', '04:00');
    expect(nextOpening(back, new Date('2025-10-25T12:00:00Z'))?.toISOString()).toBe('2025-10-26T00:30:00.000Z');
    // … and again at 01:30Z, an hour after the first one closed: open again then.
    const short = sunday('Europe/Paris', '02:30', '02:45');
    expect(nextOpening(short, new Date('2025-10-26T00:50:00Z'))?.toISOString()).toBe('2025-10-26T01:30:00.000Z');
    // Paris springs forward on Sunday 30 March 2025, 02:00 CET to 03:00 CEST (01:00Z): 02:30 never
    // shows, and hours from 02:30 to 04:00 open when the clock jumps.
    const forward = sunday('Europe/Paris', '02:30', '04:00');
    const jump = nextOpening(forward, new Date('2025-03-29T12:00:00Z'));
    expect(jump?.toISOString()).toBe('2025-03-30T01:00:00.000Z');
    expect(isWithinHours(forward, jump!)).toBe(true);
    // Hours the clocks skip entirely never open: next is Monday 09:00 CEST.
    const skipped = sunday('Europe/Paris', '02:10', '02:50');
    expect(nextOpening(skipped, new Date('2025-03-29T12:00:00Z'))?.toISOString()).toBe('2025-03-31T07:00:00.000Z');
  });

  it('end at 24:00 at midnight', () => {
    const late = hours('UTC', { weekly: { ...hours('UTC').weekly, monday: [{ from: '20:00', to: '24:00' }] } });
    expect(isWithinHours(late, new Date('2025-06-02T23:59:30Z'))).toBe(true);
    expect(isWithinHours(late, new Date('2025-06-03T00:00:30Z'))).toBe(false);
  });
});
