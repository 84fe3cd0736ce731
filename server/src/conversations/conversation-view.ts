import type { Conversation } from '@parley/protocol';
import { iso, isoOrUndefined } from '../infra/ids';
import type { ConversationDoc } from './conversation-model';
import { statusOf } from './conversation-status';

export function toConversation(doc: ConversationDoc): Conversation {
  const status = statusOf(doc.status);
  const conversation: Conversation = {
    id: doc._id,
    projectId: doc.projectId,
    leadId: doc.leadId,
    userId: doc.userId,
    status,
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
  // Conversations written before `lastMessageAt` existed have the time on their last message.
  const lastMessageAt = isoOrUndefined(doc.lastMessageAt ?? doc.lastMessage?.createdAt);
  if (lastMessageAt) conversation.lastMessageAt = lastMessageAt;
  const snoozedUntil = status === 'snoozed' ? isoOrUndefined(doc.snoozedUntil) : undefined;
  if (snoozedUntil) conversation.snoozedUntil = snoozedUntil;
  // `closedAt` is protocol 1.0's name (a document not yet migrated may still hold it).
  const resolvedAt = status === 'resolved' ? isoOrUndefined(doc.resolvedAt ?? doc.closedAt) : undefined;
  if (resolvedAt) {
    conversation.resolvedAt = resolvedAt;
    conversation.closedAt = resolvedAt;
  }
  if (doc.teamId) conversation.teamId = doc.teamId;
  if (doc.offline) conversation.offline = true;
  return conversation;
}

/** The view for one reader, with that reader's unread count and read position. */
export function toConversationFor(doc: ConversationDoc, unreadCount: number, readSeq: number): Conversation {
  return { ...toConversation(doc), unreadCount, readSeq };
}
