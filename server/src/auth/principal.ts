import type { AgentRole, VisitorKind } from '@parley/protocol';

/** Who a request or socket speaks for. Decided once, from a verified token, never from client ids. */
export interface VisitorPrincipal {
  kind: 'visitor';
  projectId: string;
  userId: string;
  visitorKind: VisitorKind;
  expiresAt: Date;
  /** Verified visitors: when the customer's token was checked; refreshes never outlive it by much. */
  verifiedAt?: Date;
}

export interface AgentPrincipal {
  kind: 'agent';
  projectId: string;
  agentId: string;
  /** The role named in the token; what is enforced is the stored role (see AgentService.authorize). */
  role: AgentRole;
  /** The agent's credential version when the token was issued (`cv`, 0 on older tokens). */
  credentialVersion: number;
  expiresAt: Date;
}

export interface AdminPrincipal {
  kind: 'admin';
}

export type Principal = VisitorPrincipal | AgentPrincipal | AdminPrincipal;
