import type { QueryFilter } from 'mongoose';
import type { ConversationDoc, ConversationModel } from '../conversations/conversation-model';
import { WAITING } from './conversation-states';

/** How many waiting conversations one pass looks at; the rest wait for the next pass. */
export const QUEUE_WINDOW = 1000;

/** When a conversation started waiting: its `queuedAt`, or for one stored before routing, its start. */
export function waitingSince(doc: Pick<ConversationDoc, 'queuedAt' | 'createdAt'>): number {
  return (doc.queuedAt ?? doc.createdAt).getTime();
}

/**
 * The queue of a project: its conversations that are open and unassigned, oldest first (by when
 * each started waiting, then by id). It is not a list of its own but a view of the conversations,
 * served by an index, so nothing can be in the conversations and missing from the queue.
 */
export class Queue {
  constructor(private readonly conversations: ConversationModel) {}

  /** `teamId`: one team's, or `none` for those of no team (as in the conversation list); else all. */
  async waiting(projectId: string, teamId?: string, window = QUEUE_WINDOW): Promise<ConversationDoc[]> {
    // `null` matches a missing field too: conversations never given a team.
    const team = teamId === undefined ? {} : { teamId: teamId === 'none' ? null : teamId };
    const filter = { projectId, ...WAITING, ...team } as QueryFilter<ConversationDoc>;
    const docs = await this.conversations
      .find(filter)
      .sort({ queuedAt: 1, _id: 1 })
      .limit(window)
      .lean<ConversationDoc[]>()
      .exec();
    // Conversations stored before routing have no `queuedAt` (they come first off the index): they
    // take their place by when they started.
    return docs.sort((a, b) => waitingSince(a) - waitingSince(b) || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
  }
}
