/**
 * Every Socket.IO command and push of both namespaces with the zod schemas of its payload and ack
 * data, for the AsyncAPI document. Typed against the event maps of `events.ts`: a command or push
 * added there and missing here (or the other way round) does not compile.
 */
import type { z } from 'zod';
import type {
  AgentClientToServerEvents,
  AgentServerToClientEvents,
  VisitorClientToServerEvents,
  VisitorServerToClientEvents,
} from '../events';
import {
  conversationCloseSchema,
  conversationCreatedEventSchema,
  conversationHistoryResultSchema,
  conversationHistorySchema,
  conversationJoinSchema,
  conversationListResultSchema,
  conversationListSchema,
  conversationResultSchema,
  conversationStartResultSchema,
  conversationStartSchema,
  conversationUpdatedEventSchema,
  emptyResultSchema,
  leadCreatedEventSchema,
  leadDeletedEventSchema,
  leadMergedEventSchema,
  leadUpdatedEventSchema,
  leadUpdateResultSchema,
  leadUpdateSchema,
  messageCreatedEventSchema,
  messageSendResultSchema,
  messageSendSchema,
  sessionExpiringEventSchema,
  sessionRenewResultSchema,
  sessionRenewSchema,
  syncReloadEventSchema,
  typingEventSchema,
  typingSchema,
} from '../schemas';

export interface CommandDoc {
  summary: string;
  input: z.ZodType;
  /** The `data` of a successful ack. */
  result: z.ZodType;
}

export interface PushDoc {
  summary: string;
  payload: z.ZodType;
}

export interface NamespaceDoc {
  path: '/visitor' | '/agent';
  description: string;
  commands: Record<string, CommandDoc>;
  pushes: Record<string, PushDoc>;
}

const typing: CommandDoc = { summary: 'Say whether one is typing.', input: typingSchema, result: emptyResultSchema };
const sessionRenew: CommandDoc = {
  summary: "Swap the socket's token for a renewed one without reconnecting.",
  input: sessionRenewSchema,
  result: sessionRenewResultSchema,
};
const history: CommandDoc = {
  summary: 'Messages of a conversation after `afterSeq`, oldest first.',
  input: conversationHistorySchema,
  result: conversationHistoryResultSchema,
};
const messageSend: CommandDoc = {
  summary: 'Send a message; `clientMessageId` makes a resend idempotent.',
  input: messageSendSchema,
  result: messageSendResultSchema,
};
const common = {
  'message.created': { summary: 'A message was written.', payload: messageCreatedEventSchema },
  'conversation.created': { summary: 'A conversation started.', payload: conversationCreatedEventSchema },
  'conversation.updated': { summary: 'A conversation changed.', payload: conversationUpdatedEventSchema },
  typing: { summary: 'Someone is typing, or stopped.', payload: typingEventSchema },
  'sync.reload': { summary: 'Pushes may have been missed: reload.', payload: syncReloadEventSchema },
  'session.expiring': { summary: "The socket's token is about to expire.", payload: sessionExpiringEventSchema },
} satisfies Record<string, PushDoc>;

const visitorCommands = {
  'conversation:start': {
    summary: 'Start a conversation, with an optional first message.',
    input: conversationStartSchema,
    result: conversationStartResultSchema,
  },
  'message:send': messageSend,
  'lead:update': {
    summary: "Change the visitor's own contact values (the pre-chat form).",
    input: leadUpdateSchema,
    result: leadUpdateResultSchema,
  },
  'conversation:list': {
    summary: "The visitor's conversations.",
    input: conversationListSchema,
    result: conversationListResultSchema,
  },
  'conversation:history': history,
  typing,
  'session:renew': sessionRenew,
} satisfies Record<keyof VisitorClientToServerEvents, CommandDoc>;

const visitorPushes = common satisfies Record<keyof VisitorServerToClientEvents, PushDoc>;

const agentCommands = {
  'conversation:join': {
    summary: 'Take part in a conversation (assigns it when open).',
    input: conversationJoinSchema,
    result: conversationResultSchema,
  },
  'conversation:close': {
    summary: 'Close a conversation.',
    input: conversationCloseSchema,
    result: conversationResultSchema,
  },
  'message:send': messageSend,
  'conversation:history': history,
  typing,
  'session:renew': sessionRenew,
} satisfies Record<keyof AgentClientToServerEvents, CommandDoc>;

const agentPushes = {
  ...common,
  'lead.created': { summary: 'A contact was created.', payload: leadCreatedEventSchema },
  'lead.updated': { summary: 'A contact changed (`changes` names the fields).', payload: leadUpdatedEventSchema },
  'lead.merged': { summary: 'Contacts were merged into `lead`.', payload: leadMergedEventSchema },
  'lead.deleted': { summary: 'A contact was erased.', payload: leadDeletedEventSchema },
} satisfies Record<keyof AgentServerToClientEvents, PushDoc>;

// `satisfies` above proves each table has every key of its map; these say it has no other.
type Exact<T, K extends PropertyKey> = Exclude<keyof T, K> extends never ? T : never;
const visitorCommandsExact: Exact<typeof visitorCommands, keyof VisitorClientToServerEvents> = visitorCommands;
const visitorPushesExact: Exact<typeof visitorPushes, keyof VisitorServerToClientEvents> = visitorPushes;
const agentCommandsExact: Exact<typeof agentCommands, keyof AgentClientToServerEvents> = agentCommands;
const agentPushesExact: Exact<typeof agentPushes, keyof AgentServerToClientEvents> = agentPushes;

export const SOCKET_NAMESPACES: NamespaceDoc[] = [
  {
    path: '/visitor',
    description: 'Visitors on a customer website. Handshake `auth: { token }` with a visitor token.',
    commands: visitorCommandsExact,
    pushes: visitorPushesExact,
  },
  {
    path: '/agent',
    description: 'Agents of one project. Handshake `auth: { token }` with an agent token.',
    commands: agentCommandsExact,
    pushes: agentPushesExact,
  },
];
