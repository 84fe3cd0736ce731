import type { ChangeActor, Sender } from '@parley/protocol';

/**
 * Who acts on a conversation, in domain terms. Visitors may touch only their own conversations;
 * agents any conversation of their project; the system (status notes, snooze wake-ups) any
 * conversation of the project it acts in. Built from a verified token, never from client input.
 */
export type Actor =
  | {
      role: 'visitor';
      projectId: string;
      userId: string;
      visitorKind: 'anonymous' | 'verified';
    }
  | { role: 'agent'; projectId: string; agentId: string; name: string }
  | { role: 'system'; projectId: string };

export type VisitorActor = Extract<Actor, { role: 'visitor' }>;
export type AgentActor = Extract<Actor, { role: 'agent' }>;
export type SystemActor = Extract<Actor, { role: 'system' }>;

/** The sender id of system messages (status notes). */
export const SYSTEM_SENDER_ID = 'system';

export function senderOf(actor: Actor): Sender {
  if (actor.role === 'visitor') return { id: actor.userId, role: 'visitor' };
  if (actor.role === 'agent') return { id: actor.agentId, role: 'agent', name: actor.name };
  return { id: SYSTEM_SENDER_ID, role: 'system' };
}

/** Who made a change, as `conversation.updated` says it. */
export function changeActorOf(actor: Actor): ChangeActor {
  if (actor.role === 'visitor') return { type: 'visitor', id: actor.userId };
  if (actor.role === 'agent') return { type: 'agent', id: actor.agentId, name: actor.name };
  return { type: 'system' };
}
