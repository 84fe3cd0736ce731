import type { Sender } from '@parley/protocol';

/**
 * Who acts on a conversation, in domain terms. Visitors may touch only their own conversations;
 * agents any conversation of their project. Built from a verified token, never from client input.
 */
export type Actor =
  | {
      role: 'visitor';
      projectId: string;
      userId: string;
      visitorKind: 'anonymous' | 'verified';
    }
  | { role: 'agent'; projectId: string; agentId: string; name: string };

export function senderOf(actor: Actor): Sender {
  return actor.role === 'visitor'
    ? { id: actor.userId, role: 'visitor' }
    : { id: actor.agentId, role: 'agent', name: actor.name };
}
