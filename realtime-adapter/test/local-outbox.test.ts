import type { BroadcastOptions } from 'socket.io-adapter';
import { LocalOutbox, type Delivery } from '../src/local-outbox';
import type { BroadcastPacket } from '../src/socket-io-internals';

const WAIT_MS = 1_000;
const opts: BroadcastOptions = { rooms: new Set(['project:1']), except: new Set(), flags: {} };
const packet = (name: string): BroadcastPacket => ({ type: 2, data: [name] });

/** An outbox and what it delivered, as `[event, delivery]`. */
function outbox(): { box: LocalOutbox; delivered: [string, Delivery][] } {
  const delivered: [string, Delivery][] = [];
  const box = new LocalOutbox((p, _opts, delivery) => delivered.push([p.data[0] as string, delivery]), WAIT_MS);
  return { box, delivered };
}

describe('local outbox', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('delivers own broadcasts when the stream gives them back, with their stream ids', () => {
    const { box, delivered } = outbox();
    box.expect(1, packet('a'), opts);
    box.expect(2, packet('b'), opts);
    expect(delivered).toEqual([]);
    box.readBack(1, '10-0');
    box.readBack(2, '10-1');
    expect(delivered).toEqual([
      ['a', { kind: 'recorded', id: '10-0' }],
      ['b', { kind: 'recorded', id: '10-1' }],
    ]);
    expect(box.degraded).toBe(false);
    expect(box.tainted).toBe(false);
    box.close();
  });

  it('keeps the order they were made when one before is never given back, and delivers a copy once', () => {
    const { box, delivered } = outbox();
    box.expect(1, packet('a'), opts);
    box.expect(2, packet('b'), opts);
    box.readBack(2, '10-1');
    expect(delivered).toEqual([
      ['a', { kind: 'unrecorded' }],
      ['b', { kind: 'recorded', id: '10-1' }],
    ]);
    // `a` may still appear in the stream: no offset handed out now can be trusted.
    expect(box.tainted).toBe(true);
    box.readBack(1, '10-2');
    box.readBack(2, '10-3');
    expect(delivered).toHaveLength(2);
    box.close();
  });

  it('stops waiting for a stream that does not answer within waitMs, until it gives one back', () => {
    const { box, delivered } = outbox();
    box.expect(1, packet('a'), opts);
    jest.advanceTimersByTime(WAIT_MS - 1);
    expect(delivered).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(delivered).toEqual([['a', { kind: 'unrecorded' }]]);
    expect(box.degraded).toBe(true);
    expect(box.tainted).toBe(true);

    // Degraded: a later broadcast does not wait at all.
    box.expect(2, packet('b'), opts);
    expect(delivered.map(([name]) => name)).toEqual(['a', 'b']);

    // Redis is back: the late copies are not delivered again; a newer own entry (a heartbeat) ends it.
    box.readBack(1, '10-0');
    box.readBack(2, '10-1');
    expect(delivered).toHaveLength(2);
    expect(box.degraded).toBe(true);
    box.readBack(3, '10-2');
    expect(box.degraded).toBe(false);
    expect(box.tainted).toBe(false);
    box.expect(4, packet('c'), opts);
    expect(delivered).toHaveLength(2);
    box.readBack(4, '10-3');
    expect(delivered[2]).toEqual(['c', { kind: 'recorded', id: '10-3' }]);
    box.close();
  });

  it('delivers a broadcast that never goes to the stream after those queued before it', () => {
    const { box, delivered } = outbox();
    box.expect(1, packet('a'), opts);
    box.now(packet('local'), { ...opts, flags: { local: true } }, undefined, true);
    expect(delivered).toEqual([]);
    box.readBack(1, '10-0');
    expect(delivered).toEqual([
      ['a', { kind: 'recorded', id: '10-0' }],
      ['local', { kind: 'local' }],
    ]);
    // A local delivery will never be in the stream: it taints nothing.
    expect(box.tainted).toBe(false);
    box.close();
  });

  it('leaves no timer behind once closed', () => {
    const { box, delivered } = outbox();
    box.expect(1, packet('a'), opts);
    expect(jest.getTimerCount()).toBe(1);
    box.close();
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(WAIT_MS * 2);
    expect(delivered).toEqual([]);
  });
});
