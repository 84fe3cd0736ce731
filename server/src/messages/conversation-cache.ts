import type { ConversationDoc } from '../conversations/conversation-model';

/** Enough for every conversation active on a busy node at once; a miss costs one read. */
const DEFAULT_MAX_ENTRIES = 10_000;

/**
 * The message writer's view of the conversations it writes to, so that a batch of sends does not
 * start with a read of every conversation in it. What the writer relies on is either immutable
 * (project, visitor) or checked by the database when it records a message: its conditional update
 * matches only while `lastSeq`, `status` and the presence of an assignee are what the cache says,
 * and otherwise the conversation is read back and the record retried (see MessageWriter). So a
 * stale entry (another node wrote, joined, closed or erased) costs a round trip, never a wrong
 * answer. Least recently used entries go first.
 */
export class ConversationCache {
  private readonly entries = new Map<string, ConversationDoc>();

  constructor(private readonly maxEntries = DEFAULT_MAX_ENTRIES) {}

  get(id: string): ConversationDoc | undefined {
    const doc = this.entries.get(id);
    if (doc) {
      this.entries.delete(id);
      this.entries.set(id, doc);
    }
    return doc;
  }

  set(doc: ConversationDoc): void {
    this.entries.delete(doc._id);
    this.entries.set(doc._id, doc);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  delete(id: string): void {
    this.entries.delete(id);
  }
}
