/** Response bodies of the REST API (`/v1`). */
import type { Agent, Conversation, Lead, Message, PreChatForm, Project, VisitorUser } from './entities';

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  limit: number;
}

export interface MessagePage {
  items: Message[];
  hasMore: boolean;
}

export interface ProjectCreatedResponse {
  project: Project;
  /** Signs verified-visitor tokens; shown only here and on rotation. */
  secret: string;
}

export interface SecretRotatedResponse {
  secret: string;
  /** Until when the previous secret keeps verifying. */
  previousSecretExpiresAt: string;
}

export interface AgentResponse {
  agent: Agent;
}

export interface WidgetConfig {
  projectId: string;
  name: string;
  preChatForm: PreChatForm;
}

export interface VisitorAuthResponse {
  token: string;
  user: VisitorUser;
  expiresAt: string;
}

export interface AgentLoginResponse {
  token: string;
  agent: Agent;
  expiresAt: string;
}

export type MeResponse =
  | { kind: 'visitor'; projectId: string; user: VisitorUser; expiresAt: string }
  | { kind: 'agent'; agent: Agent; expiresAt: string }
  | { kind: 'admin' };

export interface LeadDetailResponse {
  lead: Lead;
  /** Every conversation of the lead, newest first. */
  conversations: Conversation[];
}

export interface LeadMergedResponse {
  lead: Lead;
}

/** Extension: a canned response rendered for one conversation. */
export interface RenderedTextResponse {
  text: string;
}

export interface HealthResponse {
  status: 'ok' | 'unavailable';
  checks?: Record<string, 'ok' | 'down'>;
}
