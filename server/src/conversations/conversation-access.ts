import { notFound } from '../errors';
import type { Actor } from './actor';
import type { ConversationDoc, ConversationModel } from './conversation-model';

/**
 * The conversation if the actor may touch it. Anything else, including a conversation of another
 * visitor or another project, is "not found": its existence is not revealed.
 */
export function assertAccessible(doc: ConversationDoc | null | undefined, actor: Actor): ConversationDoc {
  if (!doc || doc.projectId !== actor.projectId) throw notFound('Conversation');
  if (actor.role === 'visitor' && doc.userId !== actor.userId) throw notFound('Conversation');
  return doc;
}

/** Loads a conversation the actor may touch (see `assertAccessible`). */
export async function loadAccessibleConversation(
  conversations: ConversationModel,
  actor: Actor,
  conversationId: string,
): Promise<ConversationDoc> {
  const doc = await conversations
    .findOne({ _id: conversationId, projectId: actor.projectId })
    .lean<ConversationDoc>()
    .exec();
  return assertAccessible(doc, actor);
}
