import type { Namespace, Server, Socket } from 'socket.io';
import type {
  AgentClientToServerEvents,
  AgentServerToClientEvents,
  VisitorClientToServerEvents,
  VisitorServerToClientEvents,
} from '@parley/protocol';
import type { AgentPrincipal, VisitorPrincipal } from '../auth/principal';

// Nothing is emitted between servers directly: cross-node traffic is room broadcasts via the adapter.
export type InterServerEvents = Record<string, never>;

export interface VisitorSocketData {
  principal: VisitorPrincipal;
}
export interface AgentSocketData {
  principal: AgentPrincipal;
  /** Shown as the sender name of the agent's messages. */
  name: string;
}

export type ParleyServer = Server;
export type VisitorNamespace = Namespace<
  VisitorClientToServerEvents,
  VisitorServerToClientEvents,
  InterServerEvents,
  VisitorSocketData
>;
export type AgentNamespace = Namespace<
  AgentClientToServerEvents,
  AgentServerToClientEvents,
  InterServerEvents,
  AgentSocketData
>;
export type VisitorSocket = Socket<
  VisitorClientToServerEvents,
  VisitorServerToClientEvents,
  InterServerEvents,
  VisitorSocketData
>;
export type AgentSocket = Socket<
  AgentClientToServerEvents,
  AgentServerToClientEvents,
  InterServerEvents,
  AgentSocketData
>;

/** Room names. Authorization decides membership once, from the token. */
export const rooms = {
  project: (projectId: string) => `project:${projectId}`,
  user: (projectId: string, userId: string) => `user:${projectId}:${userId}`,
  /** Every socket of one agent, so that removing the agent can close them on every node. */
  agent: (agentId: string) => `agent:${agentId}`,
};
