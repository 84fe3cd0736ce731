import { notFound } from '../errors';
import type { Actor } from './actor';
import type { ConversationDoc, ConversationModel } from './conversation-model';

/**
 * Loads a conversation the actor may touch. Anything else, including a conversation of another
 * visitor or another project, is "not found": its existence is not revealed.
 */
export async function loadAccessibleConversation(
  conversations: ConversationModel,
  actor: Actor,
  conversationId: string,
): Promise<ConversationDoc> {
  const doc = await conversations
    .findOne({ _id: conversationId, projectId: actor.projectId })
    .lean<ConversationDoc>()
    .exec();
  if (!doc) throw notFound('Conversation');
  if (actor.role === 'visitor' && doc.userId !== actor.userId) throw notFound('Conversation');
  return doc;
}
