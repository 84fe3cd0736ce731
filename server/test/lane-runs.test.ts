import type { DeliveryDoc } from '../src/webhooks/delivery-model';
import { claimable, laneRun, MAX_RUN, parkedUntil } from '../src/webhooks/lane-runs';

const NOW = 1_800_000_000_000;

function delivery(order: number, fields: Partial<DeliveryDoc> = {}): DeliveryDoc {
  return {
    _id: `d${order}`,
    projectId: 'p',
    webhookId: 'w',
    eventId: `e${order}`,
    eventType: 'message.created',
    lane: 'w:lead',
    order,
    body: '{}',
    status: 'pending',
    attempts: 0,
    round: 0,
    dueAt: new Date(NOW),
    createdAt: new Date(NOW),
    ...fields,
  };
}

describe('a lane run (what one claim takes of a lead’s deliveries to one webhook)', () => {
  it('takes the head of the lane in order, up to MAX_RUN', () => {
    const lane = Array.from({ length: MAX_RUN + 5 }, (_, i) => delivery(100 - i));
    const { run, blocker } = laneRun(lane, NOW);
    expect(run.map((d) => d.order)).toEqual(Array.from({ length: MAX_RUN }, (_, i) => 100 - MAX_RUN - 4 + i));
    expect(blocker).toBeUndefined();
  });

  it('stops at a delivery in flight elsewhere or waiting for its next attempt; takes nothing behind a blocked head', () => {
    const leased = delivery(3, { lease: 'other:1', dueAt: new Date(NOW + 10_000) });
    expect(laneRun([delivery(1), delivery(2), leased, delivery(4)], NOW).run.map((d) => d.order)).toEqual([1, 2]);
    const retrying = delivery(1, { round: 1, dueAt: new Date(NOW + 5000) });
    expect(laneRun([delivery(2), retrying], NOW)).toEqual({ run: [], blocker: retrying });
    expect(laneRun([], NOW)).toEqual({ run: [] });
  });

  it('takes over a lease that ran out, and parked deliveries never tried', () => {
    expect(claimable(delivery(1, { lease: 'dead:1', dueAt: new Date(NOW - 1) }), NOW)).toBe(true);
    expect(claimable(delivery(1, { lease: 'live:1', dueAt: new Date(NOW + 1) }), NOW)).toBe(false);
    expect(claimable(delivery(1, { dueAt: new Date(NOW + 60_000) }), NOW)).toBe(true);
    expect(claimable(delivery(1, { round: 2, dueAt: new Date(NOW + 60_000) }), NOW)).toBe(false);
  });

  it('parks what waits behind a head: for its node to continue the lane, or until the head’s next attempt', () => {
    const times = { parkMs: 60_000, recheckMs: 1000 };
    const inFlight = delivery(1, { lease: 'other:1', dueAt: new Date(NOW + 15_000) });
    expect(parkedUntil(delivery(2), inFlight, NOW, times)).toBe(NOW + 60_000);
    const retrying = delivery(1, { dueAt: new Date(NOW + 300_000), round: 1 });
    expect(parkedUntil(delivery(2), retrying, NOW, times)).toBe(NOW + 300_000);
    expect(parkedUntil(delivery(2, { round: 1 }), inFlight, NOW, times)).toBe(NOW + 15_000);
  });
});
