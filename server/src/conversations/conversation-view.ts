import type { Conversation } from '@parley/protocol';
import { iso, isoOrUndefined } from '../infra/ids';
import type { ConversationDoc } from './conversation-model';

export function toConversation(doc: ConversationDoc): Conversation {
  const conversation: Conversation = {
    id: doc._id,
    projectId: doc.projectId,
    leadId: doc.leadId,
    userId: doc.userId,
    status: doc.status,
    participants: [...doc.participants],
    messageCount: doc.messageCount,
    lastSeq: doc.lastSeq,
    attributes: { ...doc.attributes },
    createdAt: iso(doc.createdAt),
    updatedAt: iso(doc.updatedAt),
  };
  if (doc.assigneeId) conversation.assigneeId = doc.assigneeId;
  if (doc.lastMessage?.text !== undefined && doc.lastMessage.senderRole && doc.lastMessage.createdAt) {
    conversation.lastMessage = {
      text: doc.lastMessage.text,
      senderRole: doc.lastMessage.senderRole,
      createdAt: iso(doc.lastMessage.createdAt),
    };
  }
  const closedAt = isoOrUndefined(doc.closedAt);
  if (closedAt) conversation.closedAt = closedAt;
  if (doc.teamId) conversation.teamId = doc.teamId;
  if (doc.offline) conversation.offline = true;
  return conversation;
}
