import type { Namespace, Server, Socket } from 'socket.io';
import type {
  AGENT_NAMESPACE,
  ClientToServerEvents,
  ParleyNamespace,
  ServerToClientEvents,
  VISITOR_NAMESPACE,
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
/** Namespace `N` of the protocol, its sockets carrying data `D`. */
export type NamespaceOf<N extends ParleyNamespace, D> = Namespace<
  ClientToServerEvents<N>,
  ServerToClientEvents<N>,
  InterServerEvents,
  D
>;
export type SocketOf<N extends ParleyNamespace, D> = Socket<
  ClientToServerEvents<N>,
  ServerToClientEvents<N>,
  InterServerEvents,
  D
>;
export type VisitorNamespace = NamespaceOf<typeof VISITOR_NAMESPACE, VisitorSocketData>;
export type AgentNamespace = NamespaceOf<typeof AGENT_NAMESPACE, AgentSocketData>;
export type VisitorSocket = SocketOf<typeof VISITOR_NAMESPACE, VisitorSocketData>;
export type AgentSocket = SocketOf<typeof AGENT_NAMESPACE, AgentSocketData>;

/** Room names. Authorization decides membership once, from the token. */
export const rooms = {
  project: (projectId: string) => `project:${projectId}`,
  user: (projectId: string, userId: string) => `user:${projectId}:${userId}`,
  /** Every socket of one agent, so that removing the agent can close them on every node. */
  agent: (agentId: string) => `agent:${agentId}`,
};
