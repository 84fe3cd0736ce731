import type { Message } from '@parley/protocol';
import { iso } from '../infra/ids';
import type { MessageDoc } from './message-model';

export function toMessage(doc: MessageDoc): Message {
  return {
    id: doc._id,
    conversationId: doc.conversationId,
    projectId: doc.projectId,
    seq: doc.seq,
    clientMessageId: doc.clientMessageId,
    sender:
      doc.sender.name !== undefined && doc.sender.name !== null
        ? { id: doc.sender.id, role: doc.sender.role, name: doc.sender.name }
        : { id: doc.sender.id, role: doc.sender.role },
    text: doc.text,
    createdAt: iso(doc.createdAt),
  };
}
