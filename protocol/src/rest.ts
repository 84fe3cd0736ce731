/** Response bodies of the REST API (`/v1`). */
import type { Agent, Conversation, Lead, Message, PreChatForm, Project, VisitorUser } from './entities';
import type { AgentPresence, AgentRouting, BusinessHours, RoutingSettings, Team, WidgetAvailability } from './routing';

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
  /** Extension: whether someone can answer now, and what to tell the visitor if not. */
  availability: WidgetAvailability;
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

// ---- the conversation workflow: teams, routing, presence, business hours (extensions) ----

export interface TeamResponse {
  team: Team;
}

export interface TeamListResponse {
  items: Team[];
}

export interface RoutingSettingsResponse {
  routing: RoutingSettings;
}

export interface AgentRoutingResponse {
  agent: AgentRouting;
}

export interface AgentRoutingListResponse {
  items: AgentRouting[];
}

export interface PresenceListResponse {
  /** Every agent of the project. */
  items: AgentPresence[];
}

export interface BusinessHoursResponse {
  businessHours: BusinessHours;
}
