import { UnreadTracker, type UnreadSnapshot } from '../src/unread-tracker';

const visitor = { role: 'visitor' as const };
const agent = { role: 'agent' as const };
const system = { role: 'system' as const };

function tracker() {
  const changes: [string, number][] = [];
  const t = new UnreadTracker('visitor', (id, n) => changes.push([id, n]));
  const heard = (seq: number, sender: { role: 'visitor' | 'agent' | 'system' } = visitor) =>
    t.message({ conversationId: 'c', seq, sender });
  const said = (s: UnreadSnapshot) => t.snapshot('c', s);
  return { t, changes, heard, said };
}

describe('UnreadTracker', () => {
  it('counts nothing of a conversation the server never described', () => {
    const { t, heard } = tracker();
    heard(1);
    expect(t.unreadCount('c')).toBeUndefined();
    expect(t.total()).toBe(0);
  });

  it("adds the other side's messages heard after the snapshot's lastSeq, once each", () => {
    const { t, changes, heard, said } = tracker();
    said({ unreadCount: 2, readSeq: 1, lastSeq: 3 });
    heard(3); // counted by the snapshot already
    heard(4);
    heard(4); // pushed twice
    heard(5, agent); // this reader's side
    heard(6, system); // a status note
    heard(7);
    expect(t.unreadCount('c')).toBe(4);
    expect(changes).toEqual([
      ['c', 2],
      ['c', 3],
      ['c', 4],
    ]);
  });

  it('takes a read that went further, and keeps what was heard past its lastSeq', () => {
    const { t, heard, said } = tracker();
    said({ unreadCount: 3, readSeq: 0, lastSeq: 3 });
    heard(4);
    heard(5);
    // A read up to 4, counted when the conversation ended at 4: 5 was heard after.
    said({ unreadCount: 0, readSeq: 4, lastSeq: 4 });
    expect(t.unreadCount('c')).toBe(1);
    // A read counted further than what was heard.
    said({ unreadCount: 2, readSeq: 4, lastSeq: 6 });
    expect(t.unreadCount('c')).toBe(2);
  });

  it('ignores an older word: a read position behind, or the same one counted less far', () => {
    const { t, heard, said } = tracker();
    said({ unreadCount: 1, readSeq: 5, lastSeq: 6 });
    said({ unreadCount: 4, readSeq: 2, lastSeq: 6 });
    expect(t.unreadCount('c')).toBe(1);
    heard(7);
    said({ unreadCount: 0, readSeq: 5, lastSeq: 5 });
    expect(t.unreadCount('c')).toBe(2);
  });

  it('counts a message heard before the list that counted it once', () => {
    const { t, heard, said } = tracker();
    said({ unreadCount: 0, readSeq: 0, lastSeq: 0 });
    heard(1);
    // The list was counted after message 1 was recorded.
    said({ unreadCount: 1, readSeq: 0, lastSeq: 1 });
    expect(t.unreadCount('c')).toBe(1);
    expect(t.knownSeq('c')).toBe(1);
  });

  it('sums conversations, and forgets them all for another reader', () => {
    const { t } = tracker();
    t.snapshot('a', { unreadCount: 2, readSeq: 0, lastSeq: 2 });
    t.snapshot('b', { unreadCount: 3, readSeq: 0, lastSeq: 3 });
    expect(t.total()).toBe(5);
    t.forget();
    expect([t.total(), t.unreadCount('a')]).toEqual([0, undefined]);
  });
});
