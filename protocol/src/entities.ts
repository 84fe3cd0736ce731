/**
 * The entities of Parley's public contract, as they travel over REST and Socket.IO.
 * Ids are opaque strings; times are ISO 8601 strings in UTC.
 */

/** A custom attribute value. Scalars only, so that attributes stay searchable and bounded. */
export type AttributeValue = string | number | boolean | null;
export type Attributes = Record<string, AttributeValue>;

export type PreChatFieldType = 'text' | 'email' | 'tel' | 'textarea';

export interface PreChatField {
  name: string;
  label: string;
  type: PreChatFieldType;
  required: boolean;
}

export interface PreChatForm {
  enabled: boolean;
  fields: PreChatField[];
}

export interface Project {
  id: string;
  name: string;
  allowedOrigins: string[];
  preChatForm: PreChatForm;
  createdAt: string;
}

export type AgentRole = 'owner' | 'agent';

export interface Agent {
  id: string;
  projectId: string;
  email: string;
  name: string;
  role: AgentRole;
  createdAt: string;
}

export type LeadKind = 'anonymous' | 'verified' | 'manual';

/**
 * Extension: who set a contact's value. `visitor:{userId}` (that visitor's `lead:update`),
 * `customer:{userId}` (claims of that user's verified sign-in, which the visitor may not change) or
 * `agent`. A visitor reads and changes only values whose origin names its own `userId`.
 */
export type Origin = 'agent' | `visitor:${string}` | `customer:${string}`;

/**
 * Extension: a value a visitor entered (or its verified sign-in claimed) for a field that holds
 * another party's value on the contact: kept apart, so it neither overwrites nor reveals that value.
 * `field` is `fullname`, `lastname`, `email`, `phone` or `attributes.{key}`.
 */
export interface KeptApartValue {
  field: string;
  value: string | number | boolean;
  origin: Origin;
}

/** Shown as "contact" in user interfaces: one user of one project, with all its conversations. */
export interface Lead {
  id: string;
  projectId: string;
  userId: string;
  kind: LeadKind;
  fullname?: string;
  lastname?: string;
  email?: string;
  phone?: string;
  attributes: Attributes;
  tags: string[];
  conversationCount: number;
  createdAt: string;
  updatedAt: string;
  lastSeenAt?: string;
  mergedInto?: string;
  /** Extension, for agents: the origin of each value set (`email`, `attributes.plan`…). */
  origins?: Record<string, Origin>;
  /** Extension, for agents: what visitors entered for fields holding another party's value. */
  keptApart?: KeptApartValue[];
}

/**
 * The lead fields whose changes `lead.updated` reports. `conversationCount` (an extension) is
 * reported when an erasure takes conversations out of a contact they had been merged into.
 */
export type LeadField = 'fullname' | 'lastname' | 'email' | 'phone' | 'attributes' | 'tags' | 'conversationCount';

export type ConversationStatus = 'open' | 'assigned' | 'closed';

export type SenderRole = 'visitor' | 'agent' | 'system';

export interface Sender {
  id: string;
  role: SenderRole;
  name?: string;
}

export interface LastMessage {
  text: string;
  senderRole: SenderRole;
  createdAt: string;
}

export interface Conversation {
  id: string;
  projectId: string;
  leadId: string;
  userId: string;
  status: ConversationStatus;
  assigneeId?: string;
  participants: string[];
  lastMessage?: LastMessage;
  messageCount: number;
  lastSeq: number;
  /** Context the widget attached at start (page URL, referrer…). Extension of protocol v1. */
  attributes: Attributes;
  createdAt: string;
  updatedAt: string;
  closedAt?: string;
  /** The team it is routed to (set by a transfer to a team); absent: the whole project. */
  teamId?: string;
  /** Started outside business hours or while no agent was online: answered first when they are back. */
  offline?: boolean;
}

export interface Message {
  id: string;
  conversationId: string;
  projectId: string;
  /** 1, 2, 3… within one conversation, with no gap and no repeat. */
  seq: number;
  clientMessageId: string;
  sender: Sender;
  text: string;
  createdAt: string;
}

export type VisitorKind = 'anonymous' | 'verified';

export interface VisitorUser {
  id: string;
  kind: VisitorKind;
}
