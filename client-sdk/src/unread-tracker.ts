import type { SenderRole } from '@parley/protocol';

/**
 * What the server said about one reader's unread messages of a conversation: `unreadCount` of the
 * other side's messages after `readSeq`, up to `lastSeq`. Lists, reads and the reader's own read
 * pushes carry one.
 */
export interface UnreadSnapshot {
  unreadCount: number;
  readSeq: number;
  lastSeq: number;
}

interface Entry extends UnreadSnapshot {
  /** The other side's messages heard after `readSeq`, by seq: counted when past `lastSeq`. */
  heard: Set<number>;
}

/** Conversations tracked at most; beyond it the least recently changed one is forgotten. */
const MAX_TRACKED = 2000;

/**
 * A reader's unread counts, kept live: the server's last word on each conversation (a snapshot)
 * plus the other side's messages heard since, each counted once by its seq however often it is
 * pushed (pushes can repeat) and whether it came live or from a catch-up. A snapshot replaces
 * what it knows better: a read position at least as far, counted at least as far. A conversation
 * never described by the server is not counted (its count is `undefined`): lists describe it.
 */
export class UnreadTracker {
  private readonly entries = new Map<string, Entry>();

  constructor(
    /** The sender role whose messages are unread for this reader (the other side's). */
    private readonly otherSide: SenderRole,
    private readonly onChange: (conversationId: string, unreadCount: number) => void,
  ) {}

  snapshot(conversationId: string, snapshot: UnreadSnapshot): void {
    const entry = this.entries.get(conversationId);
    const before = entry ? this.count(entry) : undefined;
    if (entry) {
      // An older word than what is known (a read position behind, or the same one counted less far).
      if (snapshot.readSeq < entry.readSeq) return;
      if (snapshot.readSeq === entry.readSeq && snapshot.lastSeq < entry.lastSeq) return;
      entry.unreadCount = snapshot.unreadCount;
      entry.readSeq = snapshot.readSeq;
      entry.lastSeq = snapshot.lastSeq;
      for (const seq of entry.heard) if (seq <= snapshot.readSeq) entry.heard.delete(seq);
      this.touch(conversationId, entry);
    } else {
      this.touch(conversationId, { ...snapshot, heard: new Set() });
    }
    const after = this.count(this.entries.get(conversationId) as Entry);
    if (after !== before) this.onChange(conversationId, after);
  }

  /** A stored message heard (live, acknowledged or caught up). */
  message(message: { conversationId: string; seq: number; sender: { role: SenderRole } }): void {
    if (message.sender.role !== this.otherSide) return;
    const entry = this.entries.get(message.conversationId);
    if (!entry || message.seq <= entry.readSeq || entry.heard.has(message.seq)) return;
    const before = this.count(entry);
    entry.heard.add(message.seq);
    const after = this.count(entry);
    if (after !== before) this.onChange(message.conversationId, after);
  }

  unreadCount(conversationId: string): number | undefined {
    const entry = this.entries.get(conversationId);
    return entry ? this.count(entry) : undefined;
  }

  readSeq(conversationId: string): number | undefined {
    return this.entries.get(conversationId)?.readSeq;
  }

  /** The highest seq known of the conversation (counted or heard). */
  knownSeq(conversationId: string): number {
    const entry = this.entries.get(conversationId);
    if (!entry) return 0;
    return Math.max(entry.lastSeq, entry.readSeq, ...entry.heard);
  }

  /** Every counted conversation's unread messages together. */
  total(): number {
    let sum = 0;
    for (const entry of this.entries.values()) sum += this.count(entry);
    return sum;
  }

  /** Forgets every conversation, announcing nothing (the reader changed: nothing of before is theirs). */
  forget(): void {
    this.entries.clear();
  }

  private count(entry: Entry): number {
    let count = entry.unreadCount;
    for (const seq of entry.heard) if (seq > entry.lastSeq) count++;
    return count;
  }

  private touch(conversationId: string, entry: Entry): void {
    this.entries.delete(conversationId);
    this.entries.set(conversationId, entry);
    if (this.entries.size > MAX_TRACKED) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
