import { ObjectId } from 'bson';
import { SortedList } from '../src/storage/sorted-list';
import { compareValues, valueKey } from '../src/storage/values';

/** The comparison and hash key every index and query rests on, and the list indexes keep. */
describe('BSON value order and keys', () => {
  it('orders ObjectIds by their bytes, and keys them in the same order', () => {
    // Ids that differ in each 3-byte group, and at the edges of a byte, plus random ones.
    const hexes = [
      '000000000000000000000000',
      '000000000000000000000001',
      '0000000000000000000000ff',
      '000000000000000001000000',
      '000000000000ffffff000000',
      '000000000001000000000000',
      '000000ffffff000000000000',
      '000001000000000000000000',
      '7fffffffffffffffffffffff',
      '800000000000000000000000',
      'ffffffffffffffffffffffff',
      ...Array.from({ length: 200 }, () => new ObjectId().toHexString()),
      ...Array.from({ length: 200 }, () =>
        Array.from({ length: 24 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join(''),
      ),
    ];
    const ids = hexes.map((h) => new ObjectId(h));
    const byBytes = [...ids].sort((a, b) =>
      a.toHexString() < b.toHexString() ? -1 : a.toHexString() > b.toHexString() ? 1 : 0,
    );
    expect([...ids].sort(compareValues).map(String)).toEqual(byBytes.map(String));
    const keys = byBytes.map(valueKey);
    // Keys compare as strings (the order index entries with equal keys keep) in the bytes' order.
    expect([...keys].sort()).toEqual(keys);
    for (let i = 0; i < byBytes.length; i++) {
      const same = new ObjectId(byBytes[i]?.toHexString());
      expect(valueKey(same)).toBe(keys[i]);
      expect(compareValues(same, byBytes[i])).toBe(0);
    }
    // Distinct ids have distinct keys; ObjectIds still sort after strings and before booleans.
    expect(new Set(keys).size).toBe(new Set(hexes).size);
    expect(compareValues(ids[0], 'zzz')).toBe(1);
    expect(compareValues(ids[0], false)).toBe(-1);
  });

  it('keeps a sorted list sorted whatever order items arrive in', () => {
    for (const order of ['ascending', 'descending', 'random', 'sawtooth'] as const) {
      const list = new SortedList<number>((a, b) => a - b);
      const n = 3000;
      const items = Array.from({ length: n }, (_, i) =>
        order === 'ascending' ? i : order === 'descending' ? n - i : order === 'random' ? Math.random() : i % 700,
      );
      for (const item of items) list.insert(item);
      const all = [...list.range(list.start(), list.end())];
      expect(all).toEqual([...items].sort((a, b) => a - b));
      // Appending in order costs one comparison an item.
      if (order === 'ascending') expect(list.comparisons).toBe(n - 1);
    }
  });
});
