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

/**
 * What a visitor's message into a resolved conversation does: `reopen` it (the default), or start
 * a `new` conversation that continues it (see `MessageSendResult.conversation`).
 */
export type ResolvedConversationReply = 'reopen' | 'new';

export interface Project {
  id: string;
  name: string;
  allowedOrigins: string[];
  preChatForm: PreChatForm;
  resolvedConversationReply: ResolvedConversationReply;
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
  /**
   * Extension: present (always `true`) while the lead is blocked: its visitors' tokens are refused
   * with `BLOCKED`. `blockedAt` and `blockedBy` (the agent's id) say when and by whom.
   */
  blocked?: true;
  blockedAt?: string;
  blockedBy?: string;
}

/**
 * The lead fields whose changes `lead.updated` reports. `conversationCount` (an extension) is
 * reported when an erasure takes conversations out of a contact they had been merged into.
 */
export type LeadField =
  | 'fullname'
  | 'lastname'
  | 'email'
  | 'phone'
  | 'attributes'
  | 'tags'
  | 'conversationCount'
  /** Extension: the lead was blocked or unblocked (`blocked`, `blockedAt`, `blockedBy`). */
  | 'blocked';

/**
 * `open`: waiting for an agent; `pending`: waiting for the visitor; `snoozed`: set aside until
 * `snoozedUntil` (or until the visitor writes); `resolved`: done. Stored data of protocol 1.0's
 * `assigned` reads as `open` (its `assigneeId` kept) and `closed` as `resolved`.
 */
export type ConversationStatus = 'open' | 'pending' | 'snoozed' | 'resolved';

export const CONVERSATION_STATUSES: readonly ConversationStatus[] = ['open', 'pending', 'snoozed', 'resolved'];

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
  /** When the last message (of anyone, system notes included) was written; absent before the first. */
  lastMessageAt?: string;
  messageCount: number;
  lastSeq: number;
  /** Context the widget attached at start (page URL, referrer…). Extension of protocol v1. */
  attributes: Attributes;
  /** While `snoozed`: when it comes back to `open` by itself. */
  snoozedUntil?: string;
  /** While `resolved`: when it was resolved. */
  resolvedAt?: string;
  createdAt: string;
  updatedAt: string;
  /** @deprecated the same as `resolvedAt`, kept one version for clients written for `closed`. */
  closedAt?: string;
  /**
   * In lists and reads made for one reader (an agent's REST list and reads, the visitor's
   * `conversation:list`): how many messages of the other side (for an agent: the visitor's; for the
   * visitor: the agents'; never system notes) come after that reader's read position, up to
   * `lastSeq`. Absent in pushes, which go to many readers at once.
   */
  unreadCount?: number;
  /** With `unreadCount`: the reader's read position (`conversation:read`), 0 before any. */
  readSeq?: number;
  /** The team it is routed to (set by a transfer to a team); absent: the whole project. */
  teamId?: string;
  /** Started outside business hours or while no agent was online: answered first when they are back. */
  offline?: boolean;
}

/** Who made a change: an agent, the visitor, or the server itself (a snooze ending). */
export interface ChangeActor {
  type: 'agent' | 'visitor' | 'system';
  /** The agent id or the visitor's user id; absent for the system. */
  id?: string;
  /** An agent's name, to show "Ana resolved the conversation". */
  name?: string;
}

/** Why an assignee changed: by routing (`auto`), by hand, by a transfer, or by a re-queue. */
export type AssignmentReason = 'auto' | 'manual' | 'transfer' | 'requeue';

/** What `conversation.updated` says about the change it announces. */
export interface ConversationChange {
  by: ChangeActor;
  /** When the status changed: the status before (the conversation carries the new one). */
  previousStatus?: ConversationStatus;
  /** When the assignee changed: why. */
  reason?: AssignmentReason;
}

/** Extension: a canned response, a reply agents insert by its short code. */
export interface CannedResponse {
  id: string;
  projectId: string;
  /** Lower case, unique in the project: what an agent types after `/` to find it. */
  shortCode: string;
  /** May hold fields such as `{{contact.fullname}}` (see `TEMPLATE_FIELDS`), filled in by `render`. */
  text: string;
  createdAt: string;
  updatedAt: string;
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
