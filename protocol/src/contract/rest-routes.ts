/**
 * Every REST endpoint the server registers, described once: the OpenAPI document is generated
 * from this table and the zod schemas it names. A route registered in Express but missing here
 * fails `server/test/route-contract.test.ts`; a response whose status or body this table does not
 * describe fails the integration suite (test/src/support/contract.ts). To add an endpoint: add a
 * row here (its path exactly as Express registers it), with its input schemas, its success
 * responses and any error code beyond the ones `errorCodesOf` derives.
 */
import type { z } from 'zod';
import type { ErrorCode } from '../errors';
import {
  leadNoteCreateSchema,
  leadNoteListQuerySchema,
  leadNotePageSchema,
  leadNotePatchSchema,
  leadNoteResponseSchema,
} from '../schemas/notes';
import {
  agentCreateSchema,
  agentListResponseSchema,
  agentLoginResponseSchema,
  agentLoginSchema,
  agentPasswordChangeSchema,
  agentPasswordResetSchema,
  agentResponseSchema,
  agentUpdateSchema,
  anonymousAuthSchema,
  cannedResponseCreateSchema,
  cannedResponseListQuerySchema,
  cannedResponsePageSchema,
  cannedResponsePatchSchema,
  cannedResponseRenderSchema,
  cannedResponseSchema,
  conversationListQuerySchema,
  conversationPageSchema,
  conversationResponseSchema,
  healthResponseSchema,
  leadCreateSchema,
  leadImportQuerySchema,
  leadImportResponseSchema,
  leadDetailResponseSchema,
  leadExportQuerySchema,
  leadListQuerySchema,
  leadMergedResponseSchema,
  leadMergeSchema,
  leadPageSchema,
  leadPatchSchema,
  leadSchema,
  meResponseSchema,
  messageListQuerySchema,
  messagePageSchema,
  projectCreatedResponseSchema,
  projectCreateSchema,
  projectResponseSchema,
  projectUpdateSchema,
  refreshSchema,
  renderedTextResponseSchema,
  secretRotatedResponseSchema,
  verifiedAuthSchema,
  visitorAuthResponseSchema,
  webhookCreatedResponseSchema,
  webhookCreateSchema,
  webhookDeliveryListQuerySchema,
  webhookDeliveryPageSchema,
  webhookDeliveryResponseSchema,
  webhookListResponseSchema,
  webhookResponseSchema,
  webhookSecretRotatedResponseSchema,
  webhookUpdateSchema,
  widgetConfigSchema,
  agentRoutingListResponseSchema,
  agentRoutingResponseSchema,
  agentRoutingUpdateSchema,
  businessHoursResponseSchema,
  businessHoursSchema,
  presenceListResponseSchema,
  queueQuerySchema,
  routingSettingsResponseSchema,
  routingSettingsUpdateSchema,
  teamCreateSchema,
  teamListResponseSchema,
  teamResponseSchema,
  teamUpdateSchema,
} from '../schemas';
import { CONTACT_ROUTES } from './rest-routes-contacts';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * Who may call: `none` (anyone), `visitor-site` (anyone, from an origin the project allows),
 * `token` (any Parley token: visitor, agent or admin), `agent` (an agent of the path's project),
 * `owner` (an agent of the path's project with the `owner` role), `admin` (`ADMIN_TOKEN`),
 * `owner-or-admin` (either of those two), `metrics` (`METRICS_TOKEN` when set).
 */
export type Access = 'none' | 'visitor-site' | 'token' | 'agent' | 'owner' | 'admin' | 'owner-or-admin' | 'metrics';

export type Tag =
  | 'Admin'
  | 'Visitors'
  | 'Agents'
  | 'Leads'
  | 'Conversations'
  | 'CannedResponses'
  | 'Teams'
  | 'Routing'
  | 'Webhooks'
  | 'Operations'
  | 'Contract';

export interface SuccessResponse {
  description: string;
  /** The JSON body; absent for an empty body (204) or a non-JSON one (`contentType`). */
  schema?: z.ZodType;
  /** Non-JSON bodies: the CSV export, Prometheus text. */
  contentType?: string;
}

export interface RestRoute {
  method: HttpMethod;
  /** As Express registers it, `:name` for a path parameter. */
  path: string;
  summary: string;
  description?: string;
  tag: Tag;
  access: Access;
  query?: z.ZodObject;
  body?: z.ZodType;
  responses: Record<number, SuccessResponse>;
  /** Error codes this route answers beyond those `errorCodesOf` derives from its shape. */
  errors?: ErrorCode[];
}

const json = (description: string, schema: z.ZodType): SuccessResponse => ({ description, schema });
const noContent: SuccessResponse = { description: 'Done; no body.' };
/** A document of this contract: JSON whose shape is its own specification's. */
const documentBody = (description: string): SuccessResponse => ({ description, contentType: 'application/json' });

export const REST_ROUTES: RestRoute[] = [
  // ---- operations (outside /v1) ----
  {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness',
    description: 'The process answers; never checks dependencies.',
    tag: 'Operations',
    access: 'none',
    responses: { 200: json('Alive.', healthResponseSchema) },
  },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness',
    description: 'Take traffic only while the database (and Redis, where configured) answer.',
    tag: 'Operations',
    access: 'none',
    responses: {
      200: json('Ready.', healthResponseSchema),
      503: json('A dependency is down (`checks` says which).', healthResponseSchema),
    },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    description:
      'Needs `Authorization: Bearer <METRICS_TOKEN>` when `METRICS_TOKEN` is set. With `METRICS_PORT` set, metrics are served on that port alone and this path answers 404 on the public one.',
    tag: 'Operations',
    access: 'metrics',
    responses: { 200: { description: 'Prometheus text exposition.', contentType: 'text/plain' } },
    errors: ['NOT_FOUND'],
  },

  // ---- the contract itself ----
  {
    method: 'get',
    path: '/v1/openapi.json',
    summary: 'This OpenAPI document',
    tag: 'Contract',
    access: 'none',
    responses: { 200: documentBody('The OpenAPI 3.1 document of the REST API.') },
  },
  {
    method: 'get',
    path: '/v1/asyncapi.json',
    summary: 'The AsyncAPI document of the Socket.IO namespaces',
    tag: 'Contract',
    access: 'none',
    responses: { 200: documentBody('The AsyncAPI 3 document of `/visitor` and `/agent`.') },
  },

  // ---- admin ----
  {
    method: 'post',
    path: '/v1/admin/projects',
    summary: 'Create a project',
    description: 'Answers the project and the secret that signs verified-visitor tokens (shown only here).',
    tag: 'Admin',
    access: 'admin',
    body: projectCreateSchema,
    responses: { 201: json('Created.', projectCreatedResponseSchema) },
  },
  {
    method: 'get',
    path: '/v1/admin/projects/:projectId',
    summary: 'Read a project',
    tag: 'Admin',
    access: 'admin',
    responses: { 200: json('The project.', projectResponseSchema) },
  },
  {
    method: 'patch',
    path: '/v1/admin/projects/:projectId',
    summary: "Change a project's name, origins or pre-chat form",
    tag: 'Admin',
    access: 'admin',
    body: projectUpdateSchema,
    responses: { 200: json('The changed project.', projectResponseSchema) },
  },
  {
    method: 'post',
    path: '/v1/admin/projects/:projectId/secret/rotate',
    summary: "Rotate a project's secret",
    description: 'The previous secret keeps verifying for `SECRET_ROTATION_GRACE`.',
    tag: 'Admin',
    access: 'admin',
    responses: { 200: json('The new secret.', secretRotatedResponseSchema) },
  },
  {
    method: 'post',
    path: '/v1/admin/projects/:projectId/agents',
    summary: 'Create an agent',
    tag: 'Admin',
    access: 'admin',
    body: agentCreateSchema,
    responses: { 201: json('Created.', agentResponseSchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'get',
    path: '/v1/admin/projects/:projectId/agents',
    summary: "List a project's agents",
    tag: 'Admin',
    access: 'admin',
    responses: { 200: json("The project's agents.", agentListResponseSchema) },
  },
  {
    method: 'patch',
    path: '/v1/admin/projects/:projectId/agents/:agentId',
    summary: "Change an agent's name or role",
    description: 'A role change signs the agent out everywhere (its tokens carry the role).',
    tag: 'Admin',
    access: 'admin',
    body: agentUpdateSchema,
    responses: { 200: json('The changed agent.', agentResponseSchema) },
  },
  {
    method: 'post',
    path: '/v1/admin/projects/:projectId/agents/:agentId/password',
    summary: "Reset an agent's password",
    description: 'Signs the agent out everywhere.',
    tag: 'Admin',
    access: 'admin',
    body: agentPasswordResetSchema,
    responses: { 200: json('The agent.', agentResponseSchema) },
  },
  {
    method: 'delete',
    path: '/v1/admin/projects/:projectId/agents/:agentId',
    summary: 'Remove an agent',
    description: 'Closes its sockets on every node; its unexpired tokens stop working.',
    tag: 'Admin',
    access: 'admin',
    responses: { 204: noContent },
  },

  // ---- visitors ----
  {
    method: 'get',
    path: '/v1/projects/:projectId/widget',
    summary: "A project's widget configuration",
    tag: 'Visitors',
    access: 'visitor-site',
    description:
      'With `availability`: whether someone can answer now (within business hours and an agent online, never who), the away message and whether to ask for an email.',
    responses: { 200: json('Name, pre-chat form and availability.', widgetConfigSchema) },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/auth/anonymous',
    summary: 'Anonymous visitor sign-in',
    description: 'The server mints the visitor identity.',
    tag: 'Visitors',
    access: 'visitor-site',
    body: anonymousAuthSchema,
    responses: { 201: json('A visitor token.', visitorAuthResponseSchema) },
    errors: ['RATE_LIMITED'],
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/auth/verified',
    summary: 'Verified visitor sign-in',
    description: "Exchanges a token the customer's backend signed with the project secret.",
    tag: 'Visitors',
    access: 'visitor-site',
    body: verifiedAuthSchema,
    responses: { 201: json('A verified visitor token.', visitorAuthResponseSchema) },
    // The customer's token is expired, badly signed, too long-lived or lacks `sub`/`exp`.
    errors: ['UNAUTHORIZED', 'RATE_LIMITED', 'BLOCKED'],
  },
  {
    method: 'post',
    path: '/v1/auth/refresh',
    summary: 'Refresh a token',
    description: 'A visitor token gets a visitor token, an agent token an agent token.',
    tag: 'Visitors',
    access: 'token',
    body: refreshSchema,
    responses: {
      200: json('A fresh token.', visitorAuthResponseSchema.or(agentLoginResponseSchema)),
    },
    errors: ['NOT_FOUND', 'BLOCKED'],
  },
  {
    method: 'get',
    path: '/v1/me',
    summary: 'Who this token is',
    tag: 'Visitors',
    access: 'token',
    responses: { 200: json('The principal.', meResponseSchema) },
    errors: ['NOT_FOUND', 'BLOCKED'],
  },

  // ---- agents ----
  {
    method: 'post',
    path: '/v1/agents/login',
    summary: 'Agent sign-in',
    tag: 'Agents',
    access: 'none',
    body: agentLoginSchema,
    responses: { 200: json('An agent token.', agentLoginResponseSchema) },
    errors: ['UNAUTHORIZED', 'RATE_LIMITED'],
  },

  // ---- leads ----
  {
    method: 'post',
    path: '/v1/agents/me/password',
    summary: 'Change your own password',
    description:
      'Proves the current password; signs every other session of the agent out and answers a fresh token for the console that asked. Wrong current passwords count as failed logins.',
    tag: 'Agents',
    access: 'agent',
    body: agentPasswordChangeSchema,
    responses: { 200: json('A fresh token.', agentLoginResponseSchema) },
    errors: ['RATE_LIMITED'],
  },
  // ---- the project and its team, for its agents ----
  {
    method: 'get',
    path: '/v1/projects/:projectId',
    summary: "Read the project's settings",
    tag: 'Agents',
    access: 'agent',
    responses: { 200: json('The project.', projectResponseSchema) },
  },
  {
    method: 'patch',
    path: '/v1/projects/:projectId',
    summary: "Change the project's settings (owners)",
    tag: 'Agents',
    access: 'owner',
    body: projectUpdateSchema,
    responses: { 200: json('The changed project.', projectResponseSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/agents',
    summary: "List the project's agents",
    tag: 'Agents',
    access: 'agent',
    responses: { 200: json("The project's agents.", agentListResponseSchema) },
  },
  {
    method: 'patch',
    path: '/v1/projects/:projectId/agents/:agentId',
    summary: "Change an agent's name or role (owners)",
    description: 'A role change signs the agent out everywhere (its tokens carry the role).',
    tag: 'Agents',
    access: 'owner',
    body: agentUpdateSchema,
    responses: { 200: json('The changed agent.', agentResponseSchema) },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/agents/:agentId/password',
    summary: "Reset an agent's password (owners)",
    description: 'Signs the agent out everywhere.',
    tag: 'Agents',
    access: 'owner',
    body: agentPasswordResetSchema,
    responses: { 200: json('The agent.', agentResponseSchema) },
  },
  {
    method: 'delete',
    path: '/v1/projects/:projectId/agents/:agentId',
    summary: 'Remove an agent (owners)',
    description: 'Closes its sockets on every node; its unexpired tokens stop working.',
    tag: 'Agents',
    access: 'owner',
    responses: { 204: noContent },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/leads',
    summary: 'List or search contacts',
    tag: 'Leads',
    access: 'agent',
    query: leadListQuerySchema,
    responses: { 200: json('One page of contacts.', leadPageSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/leads/export.csv',
    summary: 'Export contacts as CSV',
    description: 'Streams every match of the filters; no pages.',
    tag: 'Leads',
    access: 'owner',
    query: leadExportQuerySchema,
    responses: { 200: { description: 'CSV, one contact a row.', contentType: 'text/csv' } },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/leads',
    summary: 'Create a contact by hand',
    tag: 'Leads',
    access: 'agent',
    body: leadCreateSchema,
    responses: { 201: json('Created.', leadSchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/leads/:leadId',
    summary: 'A contact and its conversations',
    tag: 'Leads',
    access: 'agent',
    responses: { 200: json('The contact, conversations newest first.', leadDetailResponseSchema) },
  },
  {
    method: 'patch',
    path: '/v1/projects/:projectId/leads/:leadId',
    summary: 'Change a contact',
    description: '`null` clears a field; in `attributes`, `null` removes that key.',
    tag: 'Leads',
    access: 'agent',
    body: leadPatchSchema,
    responses: { 200: json('The changed contact.', leadSchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/leads/:leadId/merge',
    summary: 'Merge contacts into this one',
    tag: 'Leads',
    access: 'agent',
    body: leadMergeSchema,
    responses: { 200: json('The merged contact.', leadMergedResponseSchema) },
    errors: ['CONFLICT'],
  },
  // ---- notes on leads (extension, issue 15) ----
  {
    method: 'get',
    path: '/v1/projects/:projectId/leads/:leadId/notes',
    summary: "A contact's notes",
    description: 'Newest first, cursor-paged (`nextCursor`).',
    tag: 'Leads',
    access: 'agent',
    query: leadNoteListQuerySchema,
    responses: { 200: json('One page of notes.', leadNotePageSchema) },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/leads/:leadId/notes',
    summary: 'Add a note to a contact',
    tag: 'Leads',
    access: 'agent',
    body: leadNoteCreateSchema,
    responses: { 201: json('The note.', leadNoteResponseSchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'patch',
    path: '/v1/projects/:projectId/leads/:leadId/notes/:noteId',
    summary: 'Edit a note',
    description:
      'Its author, or an owner. With `version`, refused with `409` when the note changed since that version; without, the last write wins.',
    tag: 'Leads',
    access: 'agent',
    body: leadNotePatchSchema,
    responses: { 200: json('The edited note.', leadNoteResponseSchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'delete',
    path: '/v1/projects/:projectId/leads/:leadId/notes/:noteId',
    summary: 'Delete a note',
    description: 'Its author, or an owner.',
    tag: 'Leads',
    access: 'agent',
    responses: { 204: noContent },
  },
  // ---- lead blocking (extension, issue 15) ----
  {
    method: 'post',
    path: '/v1/projects/:projectId/leads/:leadId/block',
    summary: 'Block a contact',
    description:
      "Its visitors' tokens (and those of every contact merged into it) are refused with `BLOCKED` at sign-in, handshake and every command; their open sockets are closed on every node. Answered once nothing more they send can be stored. Blocking a blocked contact changes nothing.",
    tag: 'Leads',
    access: 'agent',
    responses: { 200: json('The blocked contact.', leadSchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/leads/:leadId/unblock',
    summary: 'Unblock a contact',
    description: "Its visitors' unexpired tokens work again.",
    tag: 'Leads',
    access: 'agent',
    responses: { 200: json('The unblocked contact.', leadSchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'delete',
    path: '/v1/projects/:projectId/leads/:leadId',
    summary: 'Erase a contact',
    description: 'With its conversations and messages.',
    tag: 'Leads',
    access: 'owner',
    responses: { 204: noContent },
    errors: ['CONFLICT'],
  },
  // ---- contact imports (server/src/imports) ----
  {
    method: 'post',
    path: '/v1/projects/:projectId/leads/imports',
    summary: 'Import contacts from a CSV (owners)',
    description:
      'The body is the CSV itself (`Content-Type: text/csv`, UTF-8, up to 50 MB, streamed to storage); `mapping` (JSON: column header → `fullname`, `lastname`, `email`, `phone`, `tags`, `userId`, `ignore` or `attributes.<key>`), `matchKey` (`email` or `userId`), `dryRun` and `delimiter` (`auto`, `comma`, `semicolon`) travel in the query string. Answers at once with the queued job; any node runs it.',
    tag: 'Leads',
    access: 'owner',
    query: leadImportQuerySchema,
    responses: { 202: json('The queued import.', leadImportResponseSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/leads/imports/:importId',
    summary: 'An import: status, progress and counts (owners)',
    tag: 'Leads',
    access: 'owner',
    responses: { 200: json('The import.', leadImportResponseSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/leads/imports/:importId/errors.csv',
    summary: "An import's row errors as CSV (owners)",
    description:
      'Columns `line,column,message`; `line` is the line of the file where the row starts (the header is line 1).',
    tag: 'Leads',
    access: 'owner',
    responses: { 200: { description: 'CSV, one row error a row.', contentType: 'text/csv' } },
  },

  // ---- conversations ----
  {
    method: 'get',
    path: '/v1/projects/:projectId/conversations',
    summary: 'List conversations',
    description:
      'Filtered by `status`, `assignee` (`me`, `none` or an agent id), `teamId` (or `none`) and `leadId`; sorted by `lastActivity` (the latest message or change first, the default) or `oldest` (created first). Each carries `unreadCount` and `readSeq` for the calling agent.',
    tag: 'Conversations',
    access: 'agent',
    query: conversationListQuerySchema,
    responses: { 200: json('One page.', conversationPageSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/conversations/:conversationId',
    summary: 'Read a conversation',
    description: 'With `unreadCount` and `readSeq` for the calling agent.',
    tag: 'Conversations',
    access: 'agent',
    responses: { 200: json('The conversation.', conversationResponseSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/conversations/:conversationId/messages',
    summary: "A conversation's messages",
    description: 'Messages after `afterSeq`, oldest first.',
    tag: 'Conversations',
    access: 'agent',
    query: messageListQuerySchema,
    responses: { 200: json('Messages and whether more follow.', messagePageSchema) },
  },

  // ---- canned responses ----
  {
    method: 'get',
    path: '/v1/projects/:projectId/canned-responses',
    summary: 'List or search canned responses',
    description: '`q` is a prefix of the short code; sorted by short code.',
    tag: 'CannedResponses',
    access: 'agent',
    query: cannedResponseListQuerySchema,
    responses: { 200: json('One page of responses.', cannedResponsePageSchema) },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/canned-responses',
    summary: 'Create a canned response',
    description: 'The text may hold fields such as `{{contact.fullname}}`; an unknown field is refused.',
    tag: 'CannedResponses',
    access: 'agent',
    body: cannedResponseCreateSchema,
    responses: { 201: json('Created.', cannedResponseSchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/canned-responses/:cannedResponseId',
    summary: 'Read a canned response',
    tag: 'CannedResponses',
    access: 'agent',
    responses: { 200: json('The response.', cannedResponseSchema) },
  },
  {
    method: 'patch',
    path: '/v1/projects/:projectId/canned-responses/:cannedResponseId',
    summary: 'Change a canned response',
    tag: 'CannedResponses',
    access: 'agent',
    body: cannedResponsePatchSchema,
    responses: { 200: json('The changed response.', cannedResponseSchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'delete',
    path: '/v1/projects/:projectId/canned-responses/:cannedResponseId',
    summary: 'Delete a canned response',
    tag: 'CannedResponses',
    access: 'agent',
    responses: { 204: noContent },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/canned-responses/:cannedResponseId/render',
    summary: 'Render a canned response for a conversation',
    description:
      "Fills in the fields from the conversation's contact and the calling agent; a field without a value becomes empty.",
    tag: 'CannedResponses',
    access: 'agent',
    body: cannedResponseRenderSchema,
    responses: { 200: json('The text to send.', renderedTextResponseSchema) },
  },

  // ---- teams ----
  {
    method: 'get',
    path: '/v1/projects/:projectId/teams',
    summary: "List the project's teams",
    tag: 'Teams',
    access: 'agent',
    responses: { 200: json('Every team, by name.', teamListResponseSchema) },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/teams',
    summary: 'Create a team (owners)',
    description: 'Members must be agents of the project (else `BAD_REQUEST`); names are unique in a project.',
    tag: 'Teams',
    access: 'owner',
    body: teamCreateSchema,
    responses: { 201: json('Created.', teamResponseSchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/teams/:teamId',
    summary: 'Read a team',
    tag: 'Teams',
    access: 'agent',
    responses: { 200: json('The team.', teamResponseSchema) },
  },
  {
    method: 'patch',
    path: '/v1/projects/:projectId/teams/:teamId',
    summary: 'Rename a team or replace its members (owners)',
    tag: 'Teams',
    access: 'owner',
    body: teamUpdateSchema,
    responses: { 200: json('The changed team.', teamResponseSchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'delete',
    path: '/v1/projects/:projectId/teams/:teamId',
    summary: 'Delete a team (owners)',
    description: 'Its conversations lose their team and are routed to the whole project.',
    tag: 'Teams',
    access: 'owner',
    responses: { 204: noContent },
  },

  // ---- routing, presence, the queue, business hours ----
  {
    method: 'get',
    path: '/v1/projects/:projectId/routing',
    summary: "The project's routing settings",
    tag: 'Routing',
    access: 'agent',
    responses: { 200: json('Mode, default capacity, requeue.', routingSettingsResponseSchema) },
  },
  {
    method: 'patch',
    path: '/v1/projects/:projectId/routing',
    summary: "Change the project's routing settings (owners)",
    description: 'Switching to `auto` or raising the default capacity assigns waiting conversations at once.',
    tag: 'Routing',
    access: 'owner',
    body: routingSettingsUpdateSchema,
    responses: { 200: json('The changed settings.', routingSettingsResponseSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/routing/agents',
    summary: 'Every agent as routing sees it',
    description: 'Capacity (own and effective), active conversations and presence of each agent of the project.',
    tag: 'Routing',
    access: 'agent',
    responses: { 200: json('One entry per agent.', agentRoutingListResponseSchema) },
  },
  {
    method: 'patch',
    path: '/v1/projects/:projectId/routing/agents/:agentId',
    summary: "Set an agent's capacity (owners)",
    description: '`null` goes back to the project default; 0 means never assigned automatically.',
    tag: 'Routing',
    access: 'owner',
    body: agentRoutingUpdateSchema,
    responses: { 200: json('The agent as routing sees it now.', agentRoutingResponseSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/presence',
    summary: "The presence of the project's agents",
    description: 'Kept live by the `agent.presence` push on `/agent`.',
    tag: 'Routing',
    access: 'agent',
    responses: { 200: json('One entry per agent.', presenceListResponseSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/queue',
    summary: 'Conversations waiting for an agent',
    description:
      'Open and unassigned, in the order routing assigns them (oldest first); `teamId` keeps those of one team.',
    tag: 'Routing',
    access: 'agent',
    query: queueQuerySchema,
    responses: { 200: json('One page of the queue.', conversationPageSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/business-hours',
    summary: "The project's business hours and away settings",
    tag: 'Routing',
    access: 'agent',
    responses: { 200: json('The settings.', businessHoursResponseSchema) },
  },
  {
    method: 'put',
    path: '/v1/projects/:projectId/business-hours',
    summary: "Replace the project's business hours and away settings (owners)",
    description: 'A day left out is closed all day; a field left out takes its default.',
    tag: 'Routing',
    access: 'owner',
    body: businessHoursSchema,
    responses: { 200: json('The settings now.', businessHoursResponseSchema) },
  },

  // ---- webhooks (owners of the project, or the admin token) ----
  {
    method: 'post',
    path: '/v1/projects/:projectId/webhooks',
    summary: 'Create a webhook',
    description:
      'Answers the webhook and its signing secret (shown only here and on rotation). The URL is resolved: in production an address that is loopback, private, link-local or a metadata service is refused (`WEBHOOK_ALLOW_PRIVATE`), and so is anything but https. Answers once every node records events for it (within a second).',
    tag: 'Webhooks',
    access: 'owner-or-admin',
    body: webhookCreateSchema,
    responses: { 201: json('Created.', webhookCreatedResponseSchema) },
    errors: ['CONFLICT'],
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/webhooks',
    summary: "List the project's webhooks",
    tag: 'Webhooks',
    access: 'owner-or-admin',
    responses: { 200: json('Every webhook of the project, oldest first.', webhookListResponseSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/webhooks/:webhookId',
    summary: 'Read a webhook',
    tag: 'Webhooks',
    access: 'owner-or-admin',
    responses: { 200: json('The webhook.', webhookResponseSchema) },
  },
  {
    method: 'patch',
    path: '/v1/projects/:projectId/webhooks/:webhookId',
    summary: "Change a webhook's URL, events or description, or turn it on or off",
    tag: 'Webhooks',
    access: 'owner-or-admin',
    body: webhookUpdateSchema,
    responses: { 200: json('The changed webhook.', webhookResponseSchema) },
  },
  {
    method: 'delete',
    path: '/v1/projects/:projectId/webhooks/:webhookId',
    summary: 'Delete a webhook',
    description: 'With its deliveries, pending ones included.',
    tag: 'Webhooks',
    access: 'owner-or-admin',
    responses: { 204: noContent },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/webhooks/:webhookId/secret/rotate',
    summary: "Rotate a webhook's secret",
    description:
      'The previous secret keeps signing alongside the new one for 24 hours: deliveries carry both signatures.',
    tag: 'Webhooks',
    access: 'owner-or-admin',
    responses: { 200: json('The new secret.', webhookSecretRotatedResponseSchema) },
    // Two rotations at once: one wins, the other is told to try again (neither keeps the other's secret as its previous).
    errors: ['CONFLICT'],
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/webhooks/:webhookId/test',
    summary: 'Send a `webhook.test` event',
    description: 'Delivered like any event (signed, retried); to an inactive webhook too.',
    tag: 'Webhooks',
    access: 'owner-or-admin',
    responses: { 202: json('The delivery, pending.', webhookDeliveryResponseSchema) },
  },
  {
    method: 'get',
    path: '/v1/projects/:projectId/webhooks/:webhookId/deliveries',
    summary: "A webhook's deliveries, newest first",
    tag: 'Webhooks',
    access: 'owner-or-admin',
    query: webhookDeliveryListQuerySchema,
    responses: { 200: json('One page of deliveries.', webhookDeliveryPageSchema) },
  },
  {
    method: 'post',
    path: '/v1/projects/:projectId/webhooks/:webhookId/deliveries/:deliveryId/redeliver',
    summary: 'Send a delivery again',
    description:
      'With the same `webhook-id` and a fresh retry schedule; a delivered one is sent once more. It goes before the later events of its lead.',
    tag: 'Webhooks',
    access: 'owner-or-admin',
    responses: { 202: json('The delivery, pending.', webhookDeliveryResponseSchema) },
  },
  ...CONTACT_ROUTES,
];

/**
 * The error codes a route can answer, from its shape: any route can be refused as unreadable (400)
 * or too large (413) by the HTTP parser; any `/v1` route can fail inside (500) or
 * lose its database or Redis (503), and refuse a malformed (400) or too large (413) body; a
 * query can be refused (400); a token can be missing (401) or not allowed here (403); a path names something that may not exist
 * (404). `route.errors` adds the rest.
 */
export function errorCodesOf(route: RestRoute): ErrorCode[] {
  const codes = new Set<ErrorCode>(route.errors ?? []);
  // Node's HTTP parser refuses, before any route, a request line or headers over its limit and
  // bytes that are not HTTP (server/src/http/client-errors.ts): any path can be answered so.
  codes.add('BAD_REQUEST').add('PAYLOAD_TOO_LARGE');
  // Every /v1 route sits behind the JSON body parser, which refuses a malformed or oversized body
  // whatever the method.
  if (route.path.startsWith('/v1/'))
    codes.add('INTERNAL').add('UNAVAILABLE').add('BAD_REQUEST').add('PAYLOAD_TOO_LARGE');
  if (route.query) codes.add('BAD_REQUEST');
  if (route.access === 'metrics') codes.add('UNAUTHORIZED');
  if (
    route.access === 'token' ||
    route.access === 'agent' ||
    route.access === 'owner' ||
    route.access === 'admin' ||
    route.access === 'owner-or-admin'
  ) {
    codes.add('UNAUTHORIZED').add('FORBIDDEN');
  }
  // Visitor endpoints refuse origins the project does not allow.
  if (route.access === 'visitor-site') codes.add('FORBIDDEN');
  if (route.path.includes('/:')) codes.add('NOT_FOUND');
  return [...codes];
}
