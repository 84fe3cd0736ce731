/**
 * The Socket.IO contract, as one map: for each namespace, each command's input schema and ack data,
 * and each push's payload (`ProtocolMap`). The event maps handed to socket.io's `Server`/`Namespace`
 * and socket.io-client's `Socket`, the server's command registration and the SDK's `call` are all
 * derived from it, so that a wrong command name, input or ack is a compile error on both ends.
 * Commands (client to server) are `noun:verb` and take `(payload, ack)`; pushes (server to client)
 * are `noun.verb`.
 *
 * This file holds types and two constants only: the schemas are referenced as types (`typeof`), so
 * importing the map does not bundle zod; their values are indexed by `COMMAND_SCHEMAS` in
 * `@parley/protocol/schemas`, which is checked against this map.
 */
import type { z } from 'zod';
import type { LeadNoteCreatedEvent, LeadNoteDeletedEvent, LeadNoteUpdatedEvent } from './notes';
import type { Conversation, ConversationChange, Lead, LeadField, Message, Sender } from './entities';
import type { Ack } from './errors';
import type { WebhookDisabledEvent } from './webhooks';
import type { LeadBulkCompletedEvent } from './schemas/lead-bulk';
import type { LeadImportEvent } from './imports';
import type { ActivityRecordResult, LeadActivityEvent } from './activity';
import type { eventTrackSchema, pageViewSchema } from './schemas/activity';
import type {
  conversationHistorySchema,
  conversationListSchema,
  conversationStartSchema,
  leadUpdateSchema,
  messageSendSchema,
  sessionRenewSchema,
  typingSchema,
} from './schemas/visitor';
import type { conversationCloseSchema, conversationJoinSchema } from './schemas/agent';
import type {
  conversationPendSchema,
  conversationReadSchema,
  conversationReopenSchema,
  conversationResolveSchema,
  conversationSnoozeSchema,
} from './schemas/workflow';
import type { agentStatusSchema, conversationTransferSchema } from './schemas/routing';
import type { AgentPresence } from './routing';

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
  /** Who changed it, and how (see `ConversationChange`). */
  change: ConversationChange;
}
/** Someone read a conversation up to `seq`: a read receipt for the other side. */
export interface MessageReadEvent {
  conversationId: string;
  /** The visitor (`role: 'visitor'`) or an agent (`role: 'agent'`, with `name`). */
  reader: Sender;
  seq: number;
  readAt: string;
  /**
   * On the reader's own sockets only (its other tabs and consoles): its unread count after this
   * read, counting the other side's messages up to `lastSeq`.
   */
  unreadCount?: number;
  /** With `unreadCount`: the conversation's last message when it was counted. */
  lastSeq?: number;
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
/** Extension: an agent of the project came online, went away or went offline. */
export type AgentPresenceEvent = AgentPresence;
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
  /**
   * Present when the message started a new conversation because the one it was sent to is
   * resolved and the project's `resolvedConversationReply` is `new`: `message.conversationId` is
   * this conversation's id, and later messages belong there.
   */
  conversation?: Conversation;
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
export interface ConversationReadResult {
  conversationId: string;
  /** The reader's read position now: the `seq` given, or a later one read before. */
  seq: number;
  /** The other side's messages after `seq`, up to `lastSeq`. */
  unreadCount: number;
  /** The conversation's last message when `unreadCount` was counted. */
  lastSeq: number;
}
export type EmptyResult = Record<string, never>;
export interface SessionRenewResult {
  expiresAt: string;
}
/** The agent's presence as it is now (`agent:status`). */
export type AgentStatusResult = AgentPresence;

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

// ---- the map ----

/** One command: the zod schema its input is validated with, and the data its ack carries. */
export interface CommandSpec<Input extends z.ZodType = z.ZodType, AckData = unknown> {
  input: Input;
  ack: AckData;
}

export interface VisitorCommands {
  'conversation:start': CommandSpec<typeof conversationStartSchema, ConversationStartResult>;
  'message:send': CommandSpec<typeof messageSendSchema, MessageSendResult>;
  'lead:update': CommandSpec<typeof leadUpdateSchema, LeadUpdateResult>;
  'conversation:list': CommandSpec<typeof conversationListSchema, ConversationListResult>;
  'conversation:history': CommandSpec<typeof conversationHistorySchema, ConversationHistoryResult>;
  'conversation:read': CommandSpec<typeof conversationReadSchema, ConversationReadResult>;
  typing: CommandSpec<typeof typingSchema, EmptyResult>;
  'session:renew': CommandSpec<typeof sessionRenewSchema, SessionRenewResult>;
  /** Extension (issue 15): the page the visitor is on now (the browser SDK reports it itself). */
  'page:view': CommandSpec<typeof pageViewSchema, ActivityRecordResult>;
  /** Extension (issue 15): a custom event (`visitor.track(name, props)`). */
  'event:track': CommandSpec<typeof eventTrackSchema, ActivityRecordResult>;
}

export interface VisitorPushes {
  'message.created': MessageCreatedEvent;
  'message.read': MessageReadEvent;
  'conversation.created': ConversationCreatedEvent;
  'conversation.updated': ConversationUpdatedEvent;
  typing: TypingEvent;
  'sync.reload': SyncReloadEvent;
  'session.expiring': SessionExpiringEvent;
}

export interface AgentCommands {
  'conversation:join': CommandSpec<typeof conversationJoinSchema, ConversationResult>;
  /** @deprecated since `conversation:resolve`: the same command, kept one version. */
  'conversation:close': CommandSpec<typeof conversationCloseSchema, ConversationResult>;
  'conversation:resolve': CommandSpec<typeof conversationResolveSchema, ConversationResult>;
  'conversation:reopen': CommandSpec<typeof conversationReopenSchema, ConversationResult>;
  'conversation:snooze': CommandSpec<typeof conversationSnoozeSchema, ConversationResult>;
  'conversation:pend': CommandSpec<typeof conversationPendSchema, ConversationResult>;
  'conversation:read': CommandSpec<typeof conversationReadSchema, ConversationReadResult>;
  'conversation:transfer': CommandSpec<typeof conversationTransferSchema, ConversationResult>;
  'agent:status': CommandSpec<typeof agentStatusSchema, AgentStatusResult>;
  'message:send': CommandSpec<typeof messageSendSchema, MessageSendResult>;
  'conversation:history': CommandSpec<typeof conversationHistorySchema, ConversationHistoryResult>;
  typing: CommandSpec<typeof typingSchema, EmptyResult>;
  'session:renew': CommandSpec<typeof sessionRenewSchema, SessionRenewResult>;
}

export interface AgentPushes {
  'lead.created': LeadCreatedEvent;
  'lead.updated': LeadUpdatedEvent;
  'lead.merged': LeadMergedEvent;
  'lead.deleted': LeadDeletedEvent;
  /** Extension (issue 15): agents' notes on a lead; never pushed to visitors. */
  'lead.note.created': LeadNoteCreatedEvent;
  'lead.note.updated': LeadNoteUpdatedEvent;
  'lead.note.deleted': LeadNoteDeletedEvent;
  /** Extension (issue 15): a visitor viewed a page or did a custom event; never pushed to visitors. */
  'lead.activity': LeadActivityEvent;
  /** Extension: a bulk action on the contacts a filter matched finished (one event for all of them). */
  'lead.bulk.completed': LeadBulkCompletedEvent;
  'conversation.created': ConversationCreatedEvent;
  'conversation.updated': ConversationUpdatedEvent;
  'message.created': MessageCreatedEvent;
  'message.read': MessageReadEvent;
  typing: TypingEvent;
  'agent.presence': AgentPresenceEvent;
  'sync.reload': SyncReloadEvent;
  'session.expiring': SessionExpiringEvent;
  /** Extension: a webhook of the project was turned off (410 Gone, or failing for days). */
  'webhook.disabled': WebhookDisabledEvent;
  /** Extension: a contact import moved on (once per batch of rows, not once per contact). */
  'lead.import.progress': LeadImportEvent;
  /** Extension: a contact import finished (completed or failed). */
  'lead.import.completed': LeadImportEvent;
}

/** The whole Socket.IO contract, by namespace. */
export interface ProtocolMap {
  [VISITOR_NAMESPACE]: { commands: VisitorCommands; pushes: VisitorPushes };
  [AGENT_NAMESPACE]: { commands: AgentCommands; pushes: AgentPushes };
}

export type ParleyNamespace = keyof ProtocolMap;
export type CommandName<N extends ParleyNamespace> = keyof ProtocolMap[N]['commands'] & string;
export type PushName<N extends ParleyNamespace> = keyof ProtocolMap[N]['pushes'] & string;

type SpecOf<N extends ParleyNamespace, C extends CommandName<N>> = ProtocolMap[N]['commands'][C];
/** The schema a command's input is validated with. */
export type CommandSchema<N extends ParleyNamespace, C extends CommandName<N>> =
  SpecOf<N, C> extends CommandSpec<infer S> ? S : never;
/** What a client sends with a command. */
export type CommandInput<N extends ParleyNamespace, C extends CommandName<N>> = z.input<CommandSchema<N, C>>;
/** What the server's handler receives: the input once validated (defaults applied). */
export type CommandParsedInput<N extends ParleyNamespace, C extends CommandName<N>> = z.output<CommandSchema<N, C>>;
/** The data of a command's successful ack. */
export type CommandAck<N extends ParleyNamespace, C extends CommandName<N>> =
  SpecOf<N, C> extends CommandSpec<z.ZodType, infer A> ? A : never;
export type PushPayload<N extends ParleyNamespace, P extends PushName<N>> = ProtocolMap[N]['pushes'][P];

/** socket.io's event map of what clients emit on namespace `N`, derived from the map. */
export type ClientToServerEvents<N extends ParleyNamespace> = {
  [C in CommandName<N>]: (payload: CommandInput<N, C>, ack: Ack<CommandAck<N, C>>) => void;
};
/** socket.io's event map of what the server pushes on namespace `N`, derived from the map. */
export type ServerToClientEvents<N extends ParleyNamespace> = {
  [P in PushName<N>]: (event: PushPayload<N, P>) => void;
};

export type VisitorClientToServerEvents = ClientToServerEvents<typeof VISITOR_NAMESPACE>;
export type VisitorServerToClientEvents = ServerToClientEvents<typeof VISITOR_NAMESPACE>;
export type AgentClientToServerEvents = ClientToServerEvents<typeof AGENT_NAMESPACE>;
export type AgentServerToClientEvents = ServerToClientEvents<typeof AGENT_NAMESPACE>;

export type VisitorCommand = CommandName<typeof VISITOR_NAMESPACE>;
export type AgentCommand = CommandName<typeof AGENT_NAMESPACE>;

/**
 * Every command of `/agent`, at runtime: the role-matrix test enumerates them, and a command added
 * to the map without being listed here (or listed without being in the map) is a compile error.
 */
export const AGENT_COMMANDS = Object.keys({
  'conversation:join': true,
  'conversation:close': true,
  'conversation:resolve': true,
  'conversation:reopen': true,
  'conversation:snooze': true,
  'conversation:pend': true,
  'conversation:read': true,
  'conversation:transfer': true,
  'agent:status': true,
  'message:send': true,
  'conversation:history': true,
  typing: true,
  'session:renew': true,
} satisfies Record<AgentCommand, true>) as AgentCommand[];
