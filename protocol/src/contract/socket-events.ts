/**
 * Every Socket.IO command and push of both namespaces, for the AsyncAPI document. The command map
 * is the one source: a command's input schema is the one `COMMAND_SCHEMAS` holds (the schema the
 * server validates with), and the tables below add only what the map holds as types — a summary,
 * the schema of the ack's data, the schema of each push's payload. Those schemas are checked by the
 * compiler against the map (`CommandAck`, `PushPayload`): a command or push added to `events.ts`
 * and missing here, one here that the map does not have, or a schema whose output is not exactly
 * the map's type does not compile.
 */
import type { z } from 'zod';
import { leadNoteCreatedEventSchema, leadNoteDeletedEventSchema, leadNoteUpdatedEventSchema } from '../schemas/notes';
import { activityRecordResultSchema, leadActivityEventSchema } from '../schemas/activity';
import {
  AGENT_NAMESPACE,
  VISITOR_NAMESPACE,
  type CommandAck,
  type CommandName,
  type ParleyNamespace,
  type PushName,
  type PushPayload,
} from '../events';
import {
  agentPresenceEventSchema,
  agentStatusResultSchema,
  COMMAND_SCHEMAS,
  conversationCreatedEventSchema,
  conversationHistoryResultSchema,
  conversationListResultSchema,
  conversationReadResultSchema,
  conversationResultSchema,
  conversationStartResultSchema,
  conversationUpdatedEventSchema,
  emptyResultSchema,
  leadCreatedEventSchema,
  leadImportEventSchema,
  leadDeletedEventSchema,
  leadBulkCompletedEventSchema,
  leadMergedEventSchema,
  leadUpdatedEventSchema,
  leadUpdateResultSchema,
  messageCreatedEventSchema,
  messageReadEventSchema,
  messageSendResultSchema,
  sessionExpiringEventSchema,
  sessionRenewResultSchema,
  syncReloadEventSchema,
  typingEventSchema,
  webhookDisabledEventSchema,
} from '../schemas';

export interface CommandDoc {
  summary: string;
  /** The command's input schema, from `COMMAND_SCHEMAS`. */
  input: z.ZodType;
  /** The `data` of a successful ack. */
  result: z.ZodType;
}

export interface PushDoc {
  summary: string;
  payload: z.ZodType;
}

export interface NamespaceDoc {
  path: ParleyNamespace;
  description: string;
  commands: Record<string, CommandDoc>;
  pushes: Record<string, PushDoc>;
}

/** What a command's row adds to the map: its input schema comes from `COMMAND_SCHEMAS`. */
type CommandRow = Omit<CommandDoc, 'input'>;

/** True when each type is assignable to the other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * `true` for each command of namespace `N` whose row's ack schema outputs exactly the map's ack
 * data, `false` otherwise; a command of the map without a row, or a row the map does not have,
 * makes the whole type differ from `AllTrue` (see the checks at the end of the file).
 */
type AckChecks<N extends ParleyNamespace, T extends Record<string, CommandRow>> = {
  [C in CommandName<N> | keyof T]: C extends keyof T & CommandName<N>
    ? Same<z.output<T[C]['result']>, CommandAck<N, C>>
    : false;
};
type PushChecks<N extends ParleyNamespace, T extends Record<string, PushDoc>> = {
  [P in PushName<N> | keyof T]: P extends keyof T & PushName<N>
    ? Same<z.output<T[P]['payload']>, PushPayload<N, P>>
    : false;
};
type AllTrue<K extends PropertyKey> = Record<K, true>;

const typing = { summary: 'Say whether one is typing.', result: emptyResultSchema };
const sessionRenew = {
  summary: "Swap the socket's token for a renewed one without reconnecting.",
  result: sessionRenewResultSchema,
};
const history = {
  summary: 'Messages of a conversation after `afterSeq`, oldest first.',
  result: conversationHistoryResultSchema,
};
const messageSend = {
  summary: 'Send a message; `clientMessageId` makes a resend idempotent.',
  result: messageSendResultSchema,
};
const read = {
  summary: 'Record that the caller read up to `seq` (only forward); answers its unread count.',
  result: conversationReadResultSchema,
};
const commonPushes = {
  'message.created': { summary: 'A message was written.', payload: messageCreatedEventSchema },
  'message.read': {
    summary: "The other side read up to `seq` (a read receipt); on the reader's own sockets, with its unread count.",
    payload: messageReadEventSchema,
  },
  'conversation.created': { summary: 'A conversation started.', payload: conversationCreatedEventSchema },
  'conversation.updated': {
    summary: 'A conversation changed (`change` says who did it and how).',
    payload: conversationUpdatedEventSchema,
  },
  typing: { summary: 'Someone is typing, or stopped.', payload: typingEventSchema },
  'sync.reload': { summary: 'Pushes may have been missed: reload.', payload: syncReloadEventSchema },
  'session.expiring': { summary: "The socket's token is about to expire.", payload: sessionExpiringEventSchema },
};

const visitorCommands = {
  'conversation:start': {
    summary: 'Start a conversation, with an optional first message.',
    result: conversationStartResultSchema,
  },
  'message:send': {
    ...messageSend,
    summary:
      'Send a message; `clientMessageId` makes a resend idempotent. Into a resolved conversation it reopens it, or starts a new one (see `conversation` in the ack).',
  },
  'lead:update': {
    summary: "Change the visitor's own contact values (the pre-chat form).",
    result: leadUpdateResultSchema,
  },
  'conversation:list': { summary: "The visitor's conversations.", result: conversationListResultSchema },
  'conversation:history': history,
  'conversation:read': read,
  typing,
  'session:renew': sessionRenew,
  'page:view': {
    summary:
      'Extension: the page the visitor is on now (URL, title, referrer). Stored on its contact (the oldest dropped past the cap), shown live to agents (`lead.activity`) and in the live visitors list. Rate-limited per visitor.',
    result: activityRecordResultSchema,
  },
  'event:track': {
    summary:
      'Extension: a custom event (`name`, up to 20 `props`), stored and pushed like a page view. Rate-limited per visitor.',
    result: activityRecordResultSchema,
  },
};

const visitorPushes = commonPushes;

const agentCommands = {
  'conversation:join': {
    summary: 'Take part in a conversation (assigns it when open).',
    result: conversationResultSchema,
  },
  'conversation:close': {
    summary: 'Deprecated: the same as `conversation:resolve` (kept one version).',
    result: conversationResultSchema,
  },
  'conversation:resolve': { summary: 'Resolve a conversation.', result: conversationResultSchema },
  'conversation:reopen': {
    summary: 'Open a pending, snoozed or resolved conversation again.',
    result: conversationResultSchema,
  },
  'conversation:snooze': {
    summary: 'Set a conversation aside until `until` (or until the visitor writes).',
    result: conversationResultSchema,
  },
  'conversation:pend': { summary: 'Mark a conversation as waiting for the visitor.', result: conversationResultSchema },
  'conversation:read': read,
  'conversation:transfer': {
    summary:
      "Transfer a conversation to an agent of the project, to a team (it waits in that team's queue, unassigned), or to an agent of that team.",
    result: conversationResultSchema,
  },
  'agent:status': {
    summary: 'Choose to be online or away (offline is what the server concludes once every socket is gone).',
    result: agentStatusResultSchema,
  },
  'message:send': messageSend,
  'conversation:history': history,
  typing,
  'session:renew': sessionRenew,
};

const agentPushes = {
  ...commonPushes,
  'lead.created': { summary: 'A contact was created.', payload: leadCreatedEventSchema },
  'lead.updated': { summary: 'A contact changed (`changes` names the fields).', payload: leadUpdatedEventSchema },
  'lead.merged': { summary: 'Contacts were merged into `lead`.', payload: leadMergedEventSchema },
  'lead.deleted': { summary: 'A contact was erased.', payload: leadDeletedEventSchema },
  'lead.note.created': { summary: 'An agent added a note to a contact.', payload: leadNoteCreatedEventSchema },
  'lead.note.updated': { summary: 'A note on a contact was edited.', payload: leadNoteUpdatedEventSchema },
  'lead.note.deleted': { summary: 'A note on a contact was deleted.', payload: leadNoteDeletedEventSchema },
  'lead.activity': {
    summary: "A visitor viewed a page or did a custom event (its contact's current page, live).",
    payload: leadActivityEventSchema,
  },
  'lead.bulk.completed': {
    summary: 'A bulk action on the contacts a filter matched finished: one event for all of them.',
    payload: leadBulkCompletedEventSchema,
  },
  'agent.presence': {
    summary: 'An agent of the project came online, went away, or went offline (after the grace period).',
    payload: agentPresenceEventSchema,
  },
  'webhook.disabled': {
    summary: 'A webhook of the project was turned off (its receiver answered 410, or failed for days).',
    payload: webhookDisabledEventSchema,
  },
  'lead.import.progress': {
    summary: 'A contact import handled another batch of rows (one push per batch, never per contact).',
    payload: leadImportEventSchema,
  },
  'lead.import.completed': {
    summary: 'A contact import finished: `status` is `completed` or `failed`.',
    payload: leadImportEventSchema,
  },
};

// The compile-time ties to the map. A failure names the command or push whose row is missing,
// extra, or has a schema of another type (its entry is `false` where `true` is required).
const visitorAcks: AllTrue<keyof VisitorAckChecks> = {} as VisitorAckChecks;
type VisitorAckChecks = AckChecks<typeof VISITOR_NAMESPACE, typeof visitorCommands>;
const visitorPushTypes: AllTrue<keyof VisitorPushChecks> = {} as VisitorPushChecks;
type VisitorPushChecks = PushChecks<typeof VISITOR_NAMESPACE, typeof visitorPushes>;
const agentAcks: AllTrue<keyof AgentAckChecks> = {} as AgentAckChecks;
type AgentAckChecks = AckChecks<typeof AGENT_NAMESPACE, typeof agentCommands>;
const agentPushTypes: AllTrue<keyof AgentPushChecks> = {} as AgentPushChecks;
type AgentPushChecks = PushChecks<typeof AGENT_NAMESPACE, typeof agentPushes>;
void [visitorAcks, visitorPushTypes, agentAcks, agentPushTypes];

/**
 * The rows of a namespace's commands, in the order of `COMMAND_SCHEMAS` (the map), each with the
 * input schema the map holds.
 */
function commandDocs<N extends ParleyNamespace>(
  namespace: N,
  rows: { [C in CommandName<N>]: CommandRow },
): Record<string, CommandDoc> {
  const inputs: Record<string, z.ZodType> = COMMAND_SCHEMAS[namespace];
  const docs: Record<string, CommandDoc> = {};
  for (const [name, input] of Object.entries(inputs)) {
    // The checks above make a row exist for each command of the map; this guards untyped edits.
    const row: CommandRow | undefined = (rows as Record<string, CommandRow>)[name];
    if (!row) throw new Error(`No AsyncAPI row for ${namespace} ${name}`);
    docs[name] = { ...row, input };
  }
  return docs;
}

export const SOCKET_NAMESPACES: NamespaceDoc[] = [
  {
    path: VISITOR_NAMESPACE,
    description: 'Visitors on a customer website. Handshake `auth: { token }` with a visitor token.',
    commands: commandDocs(VISITOR_NAMESPACE, visitorCommands),
    pushes: visitorPushes,
  },
  {
    path: AGENT_NAMESPACE,
    description: 'Agents of one project. Handshake `auth: { token }` with an agent token.',
    commands: commandDocs(AGENT_NAMESPACE, agentCommands),
    pushes: agentPushes,
  },
];
