/**
 * Socket.IO event maps, usable as the generic parameters of `Server`/`Namespace` on the server and
 * of `Socket` in socket.io-client, so that a wrong event name or payload is a compile error on both
 * ends. Commands (client to server) are `noun:verb` and take `(payload, ack)`; pushes (server to
 * client) are `noun.verb`.
 */
import type { Conversation, Lead, LeadField, Message, Sender } from './entities';
import type { Ack } from './errors';
import type {
  ConversationHistoryInput,
  ConversationListInput,
  ConversationStartInput,
  LeadUpdateInput,
  MessageSendInput,
  SessionRenewInput,
  TypingInput,
} from './schemas/visitor';
import type { ConversationCloseInput, ConversationJoinInput } from './schemas/agent';

export const VISITOR_NAMESPACE = '/visitor';
export const AGENT_NAMESPACE = '/agent';

// ---- payloads of pushed events ----

export interface MessageCreatedEvent {
  message: Message;
}
export interface ConversationCreatedEvent {
  conversation: Conversation;
  /** Present on the agent namespace. */
  lead?: Lead;
}
export interface ConversationUpdatedEvent {
  conversation: Conversation;
}
export interface TypingEvent {
  conversationId: string;
  sender: Sender;
  typing: boolean;
}
export interface LeadCreatedEvent {
  lead: Lead;
}
export interface LeadUpdatedEvent {
  lead: Lead;
  /** The fields whose values changed, never empty. */
  changes: LeadField[];
}
export interface LeadMergedEvent {
  lead: Lead;
  mergedLeadIds: string[];
}
export interface LeadDeletedEvent {
  leadId: string;
}
/**
 * Why a socket is told to reload:
 * - `recovery_failed`: right after a reconnect that could not replay what the socket missed (a gap
 *   longer than the recovery window, a server restart, a session of another principal);
 * - `stream_gap`: the node's Redis stream lost entries before the node read them (trimmed while
 *   it lagged or Redis was away, or Redis lost its data);
 * - `node_lost`: another node went silent and may have died holding pushes it had not sent;
 * - `pushes_dropped`: a node dropped pushes for the other nodes during a long Redis outage.
 */
export type SyncReloadReason = 'recovery_failed' | 'stream_gap' | 'node_lost' | 'pushes_dropped';

/**
 * Extension: pushes may have been missed. On `/agent`: reload lists over REST. On `/visitor`:
 * fetch the conversations (`conversation:list`) and their messages after the last `seq` held.
 */
export interface SyncReloadEvent {
  reason: SyncReloadReason;
}
/** Extension: the socket's token is about to expire (or expired: the socket is then closed). */
export interface SessionExpiringEvent {
  expiresAt: string;
}

// ---- ack data of commands ----

export interface ConversationStartResult {
  conversation: Conversation;
  message?: Message;
}
export interface MessageSendResult {
  message: Message;
}
export interface LeadUpdateResult {
  lead: VisitorLeadView;
}
export interface ConversationListResult {
  conversations: Conversation[];
}
export interface ConversationHistoryResult {
  messages: Message[];
  hasMore: boolean;
}
export interface ConversationResult {
  conversation: Conversation;
}
export type EmptyResult = Record<string, never>;
export interface SessionRenewResult {
  expiresAt: string;
}

/**
 * What a visitor may see of its lead: only the values its own `userId` set (its `lead:update`s and
 * its verified sign-in's claims), whether they are on the contact or kept apart; never the agents'
 * tags or attributes, nor what another visitor merged into the same contact entered.
 */
export interface VisitorLeadView {
  id: string;
  fullname?: string;
  lastname?: string;
  email?: string;
  phone?: string;
  attributes: Lead['attributes'];
}

// ---- /visitor ----

export interface VisitorClientToServerEvents {
  'conversation:start': (payload: ConversationStartInput, ack: Ack<ConversationStartResult>) => void;
  'message:send': (payload: MessageSendInput, ack: Ack<MessageSendResult>) => void;
  'lead:update': (payload: LeadUpdateInput, ack: Ack<LeadUpdateResult>) => void;
  'conversation:list': (payload: ConversationListInput, ack: Ack<ConversationListResult>) => void;
  'conversation:history': (payload: ConversationHistoryInput, ack: Ack<ConversationHistoryResult>) => void;
  typing: (payload: TypingInput, ack: Ack<EmptyResult>) => void;
  'session:renew': (payload: SessionRenewInput, ack: Ack<SessionRenewResult>) => void;
}

export interface VisitorServerToClientEvents {
  'message.created': (event: MessageCreatedEvent) => void;
  'conversation.created': (event: ConversationCreatedEvent) => void;
  'conversation.updated': (event: ConversationUpdatedEvent) => void;
  typing: (event: TypingEvent) => void;
  'sync.reload': (event: SyncReloadEvent) => void;
  'session.expiring': (event: SessionExpiringEvent) => void;
}

// ---- /agent ----

export interface AgentClientToServerEvents {
  'conversation:join': (payload: ConversationJoinInput, ack: Ack<ConversationResult>) => void;
  'conversation:close': (payload: ConversationCloseInput, ack: Ack<ConversationResult>) => void;
  'message:send': (payload: MessageSendInput, ack: Ack<MessageSendResult>) => void;
  'conversation:history': (payload: ConversationHistoryInput, ack: Ack<ConversationHistoryResult>) => void;
  typing: (payload: TypingInput, ack: Ack<EmptyResult>) => void;
  'session:renew': (payload: SessionRenewInput, ack: Ack<SessionRenewResult>) => void;
}

export interface AgentServerToClientEvents {
  'lead.created': (event: LeadCreatedEvent) => void;
  'lead.updated': (event: LeadUpdatedEvent) => void;
  'lead.merged': (event: LeadMergedEvent) => void;
  'lead.deleted': (event: LeadDeletedEvent) => void;
  'conversation.created': (event: ConversationCreatedEvent) => void;
  'conversation.updated': (event: ConversationUpdatedEvent) => void;
  'message.created': (event: MessageCreatedEvent) => void;
  typing: (event: TypingEvent) => void;
  'sync.reload': (event: SyncReloadEvent) => void;
  'session.expiring': (event: SessionExpiringEvent) => void;
}

export type VisitorCommand = keyof VisitorClientToServerEvents;
export type AgentCommand = keyof AgentClientToServerEvents;

/**
 * Every command of `/agent`, at runtime: the role-matrix test enumerates them, and a command added
 * to the event map without being listed here is a compile error.
 */
export const AGENT_COMMANDS = Object.keys({
  'conversation:join': true,
  'conversation:close': true,
  'message:send': true,
  'conversation:history': true,
  typing: true,
  'session:renew': true,
} satisfies Record<AgentCommand, true>) as AgentCommand[];
