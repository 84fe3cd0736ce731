import type { EventBus } from '../infra/event-bus';
import { rooms, type AgentNamespace, type VisitorNamespace } from './socket-types';

/**
 * The one place that decides who hears each domain event (compare Chatwoot's
 * ActionCableListener): the project's agents hear everything of their project; a visitor's sockets
 * (all tabs) hear what happens in that visitor's conversations. Room broadcasts go through the
 * adapter, so with Redis they reach sockets on every node.
 */
export function attachBroadcaster(bus: EventBus, visitors: VisitorNamespace, agents: AgentNamespace): () => void {
  const project = (projectId: string) => agents.to(rooms.project(projectId));
  const visitor = (projectId: string, userId: string) => visitors.to(rooms.user(projectId, userId));

  const unsubscribe = [
    // An import's contacts reach agents as one `lead.import.progress` per batch, not a push per row.
    bus.subscribe('lead.created', ({ lead, importId }) => {
      if (!importId) project(lead.projectId).emit('lead.created', { lead });
    }),
    bus.subscribe('lead.updated', ({ lead, changes, importId }) => {
      if (!importId) project(lead.projectId).emit('lead.updated', { lead, changes });
    }),
    bus.subscribe('lead.import.progress', ({ import: job }) =>
      project(job.projectId).emit('lead.import.progress', { import: job }),
    ),
    bus.subscribe('lead.import.completed', ({ import: job }) =>
      project(job.projectId).emit('lead.import.completed', { import: job }),
    ),
    bus.subscribe('lead.merged', ({ lead, mergedLeadIds }) =>
      project(lead.projectId).emit('lead.merged', { lead, mergedLeadIds }),
    ),
    bus.subscribe('lead.deleted', ({ projectId, leadId }) => project(projectId).emit('lead.deleted', { leadId })),
    // Notes are agents' own: never to a visitor's room.
    bus.subscribe('lead.note.created', ({ note }) => project(note.projectId).emit('lead.note.created', { note })),
    bus.subscribe('lead.note.updated', ({ note }) => project(note.projectId).emit('lead.note.updated', { note })),
    bus.subscribe('lead.note.deleted', ({ projectId, leadId, noteId }) =>
      project(projectId).emit('lead.note.deleted', { leadId, noteId }),
    ),
    // Activity is agents' own view of a visitor: never to the visitor's room.
    bus.subscribe('lead.activity', ({ activity }) => project(activity.projectId).emit('lead.activity', { activity })),
    bus.subscribe('lead.bulk.completed', ({ projectId, ...summary }) =>
      project(projectId).emit('lead.bulk.completed', summary),
    ),
    // A bulk's changes reach agents as the pushes any edit makes, a chunk at a time.
    bus.subscribe('lead.bulk.updated', ({ projectId, leads, changes }) => {
      for (const lead of leads) project(projectId).emit('lead.updated', { lead, changes });
    }),
    bus.subscribe('conversation.created', ({ conversation, lead }) => {
      project(conversation.projectId).emit('conversation.created', {
        conversation,
        lead,
      });
      // The visitor's other tabs learn about the new conversation too.
      visitor(conversation.projectId, conversation.userId).emit('conversation.created', { conversation });
    }),
    bus.subscribe('conversation.updated', ({ conversation, change }) => {
      project(conversation.projectId).emit('conversation.updated', { conversation, change });
      visitor(conversation.projectId, conversation.userId).emit('conversation.updated', { conversation, change });
    }),
    bus.subscribe(
      'message.read',
      ({ projectId, userId, conversationId, reader, seq, readAt, unreadCount, lastSeq }) => {
        const receipt = { conversationId, reader, seq, readAt };
        // The other side gets a receipt; the reader's own sockets (other tabs, other consoles of the
        // same agent) get its new unread count too. Other agents keep their own counts.
        const own = { ...receipt, unreadCount, lastSeq };
        if (reader.role === 'visitor') {
          project(projectId).emit('message.read', receipt);
          visitor(projectId, userId).emit('message.read', own);
        } else {
          visitor(projectId, userId).emit('message.read', receipt);
          agents.to(rooms.agent(reader.id)).emit('message.read', own);
        }
      },
    ),
    // Agents only: visitors learn whether anyone can answer from the widget endpoint, never who.
    bus.subscribe('agent.presence', ({ projectId, agentId, status }) =>
      project(projectId).emit('agent.presence', { agentId, status }),
    ),
    bus.subscribe('message.created', ({ message, conversation }) => {
      project(message.projectId).emit('message.created', { message });
      visitor(conversation.projectId, conversation.userId).emit('message.created', { message });
    }),
    bus.subscribe('webhook.disabled', ({ webhook, reason }) =>
      project(webhook.projectId).emit('webhook.disabled', { webhook, reason }),
    ),
    // Through the adapter: the visitors' sockets close on every node (a node that misses it still
    // refuses their next command, see visitor-block-gate.ts).
    bus.subscribe('visitor.blocked', ({ projectId, userIds }) => {
      for (const userId of userIds) visitors.in(rooms.user(projectId, userId)).disconnectSockets(true);
    }),
    bus.subscribe('agent.signedOut', ({ agentId }) => agents.in(rooms.agent(agentId)).disconnectSockets(true)),
    bus.subscribe('typing', ({ projectId, userId, conversationId, sender, typing, originId }) => {
      const event = { conversationId, sender, typing };
      // Nobody hears their own typing echo; everyone else on the conversation does. Volatile: worth
      // nothing late, so not queued through a Redis outage nor replayed on recovery.
      const toAgents = originId ? project(projectId).except(originId) : project(projectId);
      const toVisitor = originId ? visitor(projectId, userId).except(originId) : visitor(projectId, userId);
      toAgents.volatile.emit('typing', event);
      toVisitor.volatile.emit('typing', event);
    }),
  ];
  return () => unsubscribe.forEach((off) => off());
}
