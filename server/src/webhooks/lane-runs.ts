import type { DeliveryDoc } from './delivery-model';

/** At most this many deliveries of one lane are claimed together (one lease, sent in order). */
export const MAX_RUN = 32;

/**
 * Whether a pending delivery may be claimed now: free and due; free and never tried (parked behind
 * an earlier one of its lane, which is what a run continues with); or under a lease that has run out
 * (its node died: taken over).
 */
export function claimable(delivery: Pick<DeliveryDoc, 'lease' | 'round' | 'dueAt'>, now: number): boolean {
  const due = (delivery.dueAt?.getTime() ?? 0) <= now;
  return delivery.lease ? due : due || delivery.round === 0;
}

/**
 * What a lane's pending deliveries (any order) allow: the run at its head to claim (in order, up to
 * MAX_RUN, stopping at the first one that is not claimable: in flight elsewhere, or waiting for its
 * next attempt), and, when even the head cannot be claimed, what blocks the lane.
 */
export function laneRun(pending: DeliveryDoc[], now: number): { run: DeliveryDoc[]; blocker?: DeliveryDoc } {
  const sorted = [...pending].sort((a, b) => a.order - b.order);
  const run: DeliveryDoc[] = [];
  for (const delivery of sorted) {
    if (run.length >= MAX_RUN || !claimable(delivery, now)) break;
    run.push(delivery);
  }
  return run.length > 0 || sorted.length === 0 ? { run } : { run, blocker: sorted[0] as DeliveryDoc };
}

/**
 * When a due delivery behind a blocked lane head looks again: one never tried waits for the node
 * sending the head to continue the lane (that node claims it next), `parkMs` at most; one in its
 * retry schedule, or behind a head waiting for its own next attempt, looks again no sooner than
 * that attempt.
 */
export function parkedUntil(
  delivery: Pick<DeliveryDoc, 'round'>,
  blocker: Pick<DeliveryDoc, 'lease' | 'dueAt'>,
  now: number,
  times: { parkMs: number; recheckMs: number },
): number {
  const blockerDue = blocker.dueAt?.getTime() ?? now;
  if (blocker.lease && delivery.round === 0) return now + times.parkMs;
  return Math.max(blockerDue, now + times.recheckMs);
}
