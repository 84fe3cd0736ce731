import {
  compareStreamIds,
  isStreamId,
  nextStreamId,
  streamIdAt,
  streamIdTime,
  UNRECORDED_OFFSET,
} from '../src/stream-id';

describe('stream ids', () => {
  it('recognises `<ms>-<seq>` and nothing else', () => {
    expect(isStreamId('1700000000000-0')).toBe(true);
    expect(isStreamId(UNRECORDED_OFFSET)).toBe(true);
    for (const value of ['', '1700000000000', '1700000000000-', '-1', 'a-1', '1-1-1', ' 1-1', 12, null, undefined])
      expect(isStreamId(value)).toBe(false);
    // Longer than any Redis id: refused before Number() would round it.
    expect(isStreamId('12345678901234567-0')).toBe(false);
  });

  it('orders by time, then by sequence, numerically', () => {
    expect(compareStreamIds('5-0', '10-0')).toBeLessThan(0);
    expect(compareStreamIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareStreamIds('10-10', '10-2')).toBeGreaterThan(0);
    expect(compareStreamIds('10-2', '10-2')).toBe(0);
    expect(() => compareStreamIds('x', '1-0')).toThrow('not a stream id');
  });

  it('gives the next id (XRANGE is inclusive), the time, and the position before a time', () => {
    expect(nextStreamId('10-9')).toBe('10-10');
    expect(streamIdTime('1700000000123-4')).toBe(1700000000123);
    expect(streamIdAt(1700000000123.7)).toBe('1700000000123-0');
    expect(streamIdAt(-5)).toBe('0-0');
    expect(compareStreamIds(streamIdAt(1000), '1000-0')).toBe(0);
  });
});
