import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { io, type Socket } from 'socket.io-client';
import {
  AGENT_NAMESPACE,
  VISITOR_NAMESPACE,
  type AgentCommand,
  type AgentRoutingListResponse,
  type AgentResponse,
  type CannedResponse,
  type ConversationStartResult,
  type ErrorResponse,
  type Lead,
  type LeadImportResponse,
  type LeadUpdateResult,
  type TeamResponse,
  type VisitorCommand,
  type WebhookCreatedResponse,
  type WebhookDeliveryResponse,
} from '@parley/protocol';
import { COMMAND_SCHEMAS } from '@parley/protocol/schemas';
import { loadConfig } from '@parley/server/dist/config';
import { startServer, type RunningServer } from '@parley/server/dist/main';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { expired, resigned, tampered, unsigned } from './support/forged-tokens';
import { client, request, type HttpResult } from './support/http';
import { startSharedMongo, type SharedMongo } from './support/mongo-process';
import { startParley, TEST_ADMIN_TOKEN, testServerEnv, type ParleyProcess } from './support/parley-process';
import { startRedis, type RedisProcess } from './support/redis-process';
import { command, ok, waitConnected } from './support/sockets';
import { makeTempDir, removeDir } from './support/temp-dir';

/**
 * Who may do what, by enumeration: a row for every REST endpoint (read from the server's route
 * table and from the OpenAPI document it serves) and every Socket.IO command of both namespaces
 * (read from the protocol's command map), a column for every kind of caller, and in each cell the
 * outcome that caller must get. Every cell is exercised on two real nodes sharing one database and
 * one Redis (node A in this process, node B a server process), on the resources that matter to that
 * caller: a visitor's row names the owning visitor's conversation, so the other visitors' cells prove
 * isolation, not only authentication; rows marked `· … of another project` name another project's
 * resource through this project's path. Any answer that succeeds is also searched for the private
 * data (user ids, emails, conversation ids, message texts) of every visitor the caller may not see,
 * and so is every push each caller's sockets received.
 */

// ---- outcomes and callers ----

type Outcome = 'ok' | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND';
/** Succeeded (2xx, or an ack with `ok: true`) and showed nothing of a visitor the caller may not see. */
const O: Outcome = 'ok';
const U: Outcome = 'UNAUTHORIZED';
const F: Outcome = 'FORBIDDEN';
/** The resource is invisible to this caller: "not found", whether or not it exists. */
const N: Outcome = 'NOT_FOUND';

const CALLERS = [
  'none', //           no token at all
  'forged', //         wrong key, `alg: none`, claims changed after signing (each tried; all must agree)
  'expired', //        the owner's and the owning visitor's token, signed right, past `exp`
  'foreignVisitor', // a visitor of another project
  'otherVisitor', //   another visitor of this project
  'visitor', //        the visitor who owns the row's conversation (and the lead others were merged into)
  'mergedVisitor', //  a visitor whose lead was merged (through node B) into the owning visitor's lead
  'agent', //          an agent of this project (role `agent`)
  'owner', //          an owner of this project
  'foreignAgent', //   an agent of another project
  'removedHere', //    an agent removed through the node the cell runs on (its sockets opened before)
  'removedThere', //   an agent removed through the other node
  'admin', //          ADMIN_TOKEN
] as const;
type Caller = (typeof CALLERS)[number];

type Row = [
  none: Outcome,
  forged: Outcome,
  expired: Outcome,
  foreignVisitor: Outcome,
  otherVisitor: Outcome,
  visitor: Outcome,
  mergedVisitor: Outcome,
  agent: Outcome,
  owner: Outcome,
  foreignAgent: Outcome,
  removedHere: Outcome,
  removedThere: Outcome,
  admin: Outcome,
];

// ---- REST ----

// prettier-ignore
const
  //                           none forged expired fVis oVis vis mVis agent owner fAgent rmHere rmThere admin
  PUBLIC: Row =               [O,   O,     O,      O,   O,   O,  O,   O,    O,    O,     O,     O,      O],
  /** Any Parley token (the admin token too): `GET /v1/me`. */
  ANY_TOKEN: Row =            [U,   U,     U,      O,   O,   O,  O,   O,    O,    O,     U,     U,      O],
  /** Visitor and agent tokens; the admin token is not one that refreshes. */
  REFRESHABLE: Row =          [U,   U,     U,      O,   O,   O,  O,   O,    O,    O,     U,     U,      F],
  /** Any agent, on its own account. */
  ANY_AGENT: Row =            [U,   U,     U,      F,   F,   F,  F,   O,    O,    O,     U,     U,      U],
  ADMIN: Row =                [U,   U,     U,      U,   U,   U,  U,   U,    U,    U,     U,     U,      O],
  /** The admin API, naming another project's agent under this project's path. */
  ADMIN_NOT_FOUND: Row =      [U,   U,     U,      U,   U,   U,  U,   U,    U,    U,     U,     U,      N],
  /** Agents of the path's project; another project's agent is refused by the path, not by a lookup. */
  PROJECT_AGENTS: Row =       [U,   U,     U,      F,   F,   F,  F,   O,    O,    F,     U,     U,      U],
  PROJECT_OWNERS: Row =       [U,   U,     U,      F,   F,   F,  F,   F,    O,    F,     U,     U,      U],
  /** Another project's resource through this project's path: invisible to this project's agents. */
  AGENTS_NOT_FOUND: Row =     [U,   U,     U,      F,   F,   F,  F,   N,    N,    F,     U,     U,      U],
  OWNERS_NOT_FOUND: Row =     [U,   U,     U,      F,   F,   F,  F,   F,    N,    F,     U,     U,      U],
  /** The project's owners, and the admin token (webhooks). */
  OWNERS_OR_ADMIN: Row =      [U,   U,     U,      F,   F,   F,  F,   F,    O,    F,     U,     U,      O],
  /** Another project's webhook (or delivery) through this project's path: invisible to owners and the admin alike. */
  FOREIGN_WEBHOOK: Row =      [U,   U,     U,      F,   F,   F,  F,   F,    N,    F,     U,     U,      N];

/**
 * Every REST endpoint, as Express registers it (`METHOD /path/:param`), and after ` · ` the
 * variants that name another party's resource. Operations endpoints are public on this test
 * server (no METRICS_TOKEN; production puts /metrics on its own port or behind a token).
 */
// prettier-ignore
const REST = {
  'GET /healthz':                                                       PUBLIC,
  'GET /readyz':                                                        PUBLIC,
  'GET /metrics':                                                       PUBLIC,
  'GET /v1/openapi.json':                                               PUBLIC,
  'GET /v1/asyncapi.json':                                              PUBLIC,
  // Visitors sign in here; a bearer token is ignored.
  'GET /v1/projects/:projectId/widget':                                 PUBLIC,
  'POST /v1/projects/:projectId/auth/anonymous':                        PUBLIC,
  'POST /v1/projects/:projectId/auth/verified':                         PUBLIC,
  'POST /v1/agents/login':                                              PUBLIC,
  'GET /v1/me':                                                         ANY_TOKEN,
  'POST /v1/auth/refresh':                                              REFRESHABLE,
  'POST /v1/agents/me/password':                                        ANY_AGENT,
  // The admin API: ADMIN_TOKEN alone, whatever the project.
  'POST /v1/admin/projects':                                            ADMIN,
  'GET /v1/admin/projects/:projectId':                                  ADMIN,
  'PATCH /v1/admin/projects/:projectId':                                ADMIN,
  'POST /v1/admin/projects/:projectId/secret/rotate':                   ADMIN,
  'POST /v1/admin/projects/:projectId/agents':                          ADMIN,
  'GET /v1/admin/projects/:projectId/agents':                           ADMIN,
  'PATCH /v1/admin/projects/:projectId/agents/:agentId':                ADMIN,
  'PATCH /v1/admin/projects/:projectId/agents/:agentId · an agent of another project':           ADMIN_NOT_FOUND,
  'POST /v1/admin/projects/:projectId/agents/:agentId/password':        ADMIN,
  'POST /v1/admin/projects/:projectId/agents/:agentId/password · an agent of another project':   ADMIN_NOT_FOUND,
  'DELETE /v1/admin/projects/:projectId/agents/:agentId':               ADMIN,
  'DELETE /v1/admin/projects/:projectId/agents/:agentId · an agent of another project':          ADMIN_NOT_FOUND,
  // The project and its team: every agent reads, owners change.
  'GET /v1/projects/:projectId':                                        PROJECT_AGENTS,
  'PATCH /v1/projects/:projectId':                                      PROJECT_OWNERS,
  'GET /v1/projects/:projectId/agents':                                 PROJECT_AGENTS,
  'PATCH /v1/projects/:projectId/agents/:agentId':                      PROJECT_OWNERS,
  'PATCH /v1/projects/:projectId/agents/:agentId · an agent of another project':                 OWNERS_NOT_FOUND,
  'POST /v1/projects/:projectId/agents/:agentId/password':              PROJECT_OWNERS,
  'POST /v1/projects/:projectId/agents/:agentId/password · an agent of another project':         OWNERS_NOT_FOUND,
  'DELETE /v1/projects/:projectId/agents/:agentId':                     PROJECT_OWNERS,
  'DELETE /v1/projects/:projectId/agents/:agentId · an agent of another project':                OWNERS_NOT_FOUND,
  // Contacts: agents work them; erasure and export (every contact at once) are for owners.
  'GET /v1/projects/:projectId/leads':                                  PROJECT_AGENTS,
  'GET /v1/projects/:projectId/leads/export.csv':                       PROJECT_OWNERS,
  'POST /v1/projects/:projectId/leads':                                 PROJECT_AGENTS,
  // Contact imports (server/src/imports): owners only, like the export.
  'POST /v1/projects/:projectId/leads/imports':                         PROJECT_OWNERS,
  'GET /v1/projects/:projectId/leads/imports/:importId':                PROJECT_OWNERS,
  'GET /v1/projects/:projectId/leads/imports/:importId · an import of another project':          OWNERS_NOT_FOUND,
  'GET /v1/projects/:projectId/leads/imports/:importId/errors.csv':     PROJECT_OWNERS,
  'GET /v1/projects/:projectId/leads/imports/:importId/errors.csv · an import of another project': OWNERS_NOT_FOUND,
  'GET /v1/projects/:projectId/leads/:leadId':                          PROJECT_AGENTS,
  'GET /v1/projects/:projectId/leads/:leadId · a lead of another project':                       AGENTS_NOT_FOUND,
  'PATCH /v1/projects/:projectId/leads/:leadId':                        PROJECT_AGENTS,
  'PATCH /v1/projects/:projectId/leads/:leadId · a lead of another project':                     AGENTS_NOT_FOUND,
  'POST /v1/projects/:projectId/leads/:leadId/merge':                   PROJECT_AGENTS,
  'POST /v1/projects/:projectId/leads/:leadId/merge · a source lead of another project':         AGENTS_NOT_FOUND,
  'DELETE /v1/projects/:projectId/leads/:leadId':                       PROJECT_OWNERS,
  // Blocking (issue 15): any agent of the project, like other contact work; it can be undone.
  'POST /v1/projects/:projectId/leads/:leadId/block':                   PROJECT_AGENTS,
  'POST /v1/projects/:projectId/leads/:leadId/block · a lead of another project':                 AGENTS_NOT_FOUND,
  'POST /v1/projects/:projectId/leads/:leadId/unblock':                 PROJECT_AGENTS,
  'POST /v1/projects/:projectId/leads/:leadId/unblock · a lead of another project':               AGENTS_NOT_FOUND,
  // Notes (issue 15): any agent reads and adds; the author (the caller's own note) or an owner edits and deletes.
  'GET /v1/projects/:projectId/leads/:leadId/notes':                    PROJECT_AGENTS,
  'GET /v1/projects/:projectId/leads/:leadId/notes · a lead of another project':                  AGENTS_NOT_FOUND,
  'POST /v1/projects/:projectId/leads/:leadId/notes':                   PROJECT_AGENTS,
  'POST /v1/projects/:projectId/leads/:leadId/notes · a lead of another project':                 AGENTS_NOT_FOUND,
  'PATCH /v1/projects/:projectId/leads/:leadId/notes/:noteId':          PROJECT_AGENTS,
  'PATCH /v1/projects/:projectId/leads/:leadId/notes/:noteId · a note of another agent':          PROJECT_OWNERS,
  'PATCH /v1/projects/:projectId/leads/:leadId/notes/:noteId · a lead of another project':        AGENTS_NOT_FOUND,
  'DELETE /v1/projects/:projectId/leads/:leadId/notes/:noteId':         PROJECT_AGENTS,
  'DELETE /v1/projects/:projectId/leads/:leadId/notes/:noteId · a note of another agent':         PROJECT_OWNERS,
  'DELETE /v1/projects/:projectId/leads/:leadId/notes/:noteId · a lead of another project':       AGENTS_NOT_FOUND,
  // Activity (issue 15): any agent of the project reads a contact's timeline and the live visitors,
  // like every contact read (the admin token reads no contact data).
  'GET /v1/projects/:projectId/leads/:leadId/timeline':                 PROJECT_AGENTS,
  'GET /v1/projects/:projectId/leads/:leadId/timeline · a lead of another project':               AGENTS_NOT_FOUND,
  'GET /v1/projects/:projectId/visitors/live':                          PROJECT_AGENTS,
  'DELETE /v1/projects/:projectId/leads/:leadId · a lead of another project':                    OWNERS_NOT_FOUND,
  // Conversations: every agent of the project.
  'GET /v1/projects/:projectId/conversations':                          PROJECT_AGENTS,
  'GET /v1/projects/:projectId/conversations/:conversationId':          PROJECT_AGENTS,
  'GET /v1/projects/:projectId/conversations/:conversationId · a conversation of another project':          AGENTS_NOT_FOUND,
  'GET /v1/projects/:projectId/conversations/:conversationId/messages': PROJECT_AGENTS,
  'GET /v1/projects/:projectId/conversations/:conversationId/messages · a conversation of another project': AGENTS_NOT_FOUND,
  // Canned responses: every agent of the project writes and uses them.
  'GET /v1/projects/:projectId/canned-responses':                       PROJECT_AGENTS,
  'POST /v1/projects/:projectId/canned-responses':                      PROJECT_AGENTS,
  'GET /v1/projects/:projectId/canned-responses/:cannedResponseId':     PROJECT_AGENTS,
  'GET /v1/projects/:projectId/canned-responses/:cannedResponseId · a canned response of another project':           AGENTS_NOT_FOUND,
  'PATCH /v1/projects/:projectId/canned-responses/:cannedResponseId':   PROJECT_AGENTS,
  'PATCH /v1/projects/:projectId/canned-responses/:cannedResponseId · a canned response of another project':         AGENTS_NOT_FOUND,
  'DELETE /v1/projects/:projectId/canned-responses/:cannedResponseId':  PROJECT_AGENTS,
  'DELETE /v1/projects/:projectId/canned-responses/:cannedResponseId · a canned response of another project':        AGENTS_NOT_FOUND,
  'POST /v1/projects/:projectId/canned-responses/:cannedResponseId/render': PROJECT_AGENTS,
  'POST /v1/projects/:projectId/canned-responses/:cannedResponseId/render · a canned response of another project': AGENTS_NOT_FOUND,
  'POST /v1/projects/:projectId/canned-responses/:cannedResponseId/render · a conversation of another project':    AGENTS_NOT_FOUND,
  // Teams: every agent reads them, owners change them.
  'GET /v1/projects/:projectId/teams':                                  PROJECT_AGENTS,
  'POST /v1/projects/:projectId/teams':                                 PROJECT_OWNERS,
  'GET /v1/projects/:projectId/teams/:teamId':                          PROJECT_AGENTS,
  'GET /v1/projects/:projectId/teams/:teamId · a team of another project':                       AGENTS_NOT_FOUND,
  'PATCH /v1/projects/:projectId/teams/:teamId':                        PROJECT_OWNERS,
  'PATCH /v1/projects/:projectId/teams/:teamId · a team of another project':                     OWNERS_NOT_FOUND,
  'DELETE /v1/projects/:projectId/teams/:teamId':                       PROJECT_OWNERS,
  'DELETE /v1/projects/:projectId/teams/:teamId · a team of another project':                    OWNERS_NOT_FOUND,
  // Routing, presence, the queue and business hours: every agent reads them, owners change them.
  'GET /v1/projects/:projectId/routing':                                PROJECT_AGENTS,
  'PATCH /v1/projects/:projectId/routing':                              PROJECT_OWNERS,
  'GET /v1/projects/:projectId/routing/agents':                         PROJECT_AGENTS,
  'PATCH /v1/projects/:projectId/routing/agents/:agentId':              PROJECT_OWNERS,
  'PATCH /v1/projects/:projectId/routing/agents/:agentId · an agent of another project':         OWNERS_NOT_FOUND,
  'GET /v1/projects/:projectId/presence':                               PROJECT_AGENTS,
  'GET /v1/projects/:projectId/queue':                                  PROJECT_AGENTS,
  'GET /v1/projects/:projectId/business-hours':                         PROJECT_AGENTS,
  'PUT /v1/projects/:projectId/business-hours':                         PROJECT_OWNERS,
  // Webhooks: the project's owners configure them, and so does the admin token.
  'POST /v1/projects/:projectId/webhooks':                              OWNERS_OR_ADMIN,
  'GET /v1/projects/:projectId/webhooks':                               OWNERS_OR_ADMIN,
  'GET /v1/projects/:projectId/webhooks/:webhookId':                    OWNERS_OR_ADMIN,
  'GET /v1/projects/:projectId/webhooks/:webhookId · a webhook of another project':                 FOREIGN_WEBHOOK,
  'PATCH /v1/projects/:projectId/webhooks/:webhookId':                  OWNERS_OR_ADMIN,
  'PATCH /v1/projects/:projectId/webhooks/:webhookId · a webhook of another project':               FOREIGN_WEBHOOK,
  'DELETE /v1/projects/:projectId/webhooks/:webhookId':                 OWNERS_OR_ADMIN,
  'DELETE /v1/projects/:projectId/webhooks/:webhookId · a webhook of another project':              FOREIGN_WEBHOOK,
  'POST /v1/projects/:projectId/webhooks/:webhookId/secret/rotate':     OWNERS_OR_ADMIN,
  'POST /v1/projects/:projectId/webhooks/:webhookId/secret/rotate · a webhook of another project':  FOREIGN_WEBHOOK,
  'POST /v1/projects/:projectId/webhooks/:webhookId/test':              OWNERS_OR_ADMIN,
  'POST /v1/projects/:projectId/webhooks/:webhookId/test · a webhook of another project':           FOREIGN_WEBHOOK,
  'GET /v1/projects/:projectId/webhooks/:webhookId/deliveries':         OWNERS_OR_ADMIN,
  'GET /v1/projects/:projectId/webhooks/:webhookId/deliveries · a webhook of another project':      FOREIGN_WEBHOOK,
  'POST /v1/projects/:projectId/webhooks/:webhookId/deliveries/:deliveryId/redeliver':                OWNERS_OR_ADMIN,
  'POST /v1/projects/:projectId/webhooks/:webhookId/deliveries/:deliveryId/redeliver · a webhook of another project':  FOREIGN_WEBHOOK,
  'POST /v1/projects/:projectId/webhooks/:webhookId/deliveries/:deliveryId/redeliver · a delivery of another project': FOREIGN_WEBHOOK,
  // Contact properties: every agent reads the definitions; owners define, change and delete them.
  'GET /v1/projects/:projectId/properties':                             PROJECT_AGENTS,
  'POST /v1/projects/:projectId/properties':                            PROJECT_OWNERS,
  'GET /v1/projects/:projectId/properties/:propertyId':                 PROJECT_AGENTS,
  'GET /v1/projects/:projectId/properties/:propertyId · a property of another project':            AGENTS_NOT_FOUND,
  'PATCH /v1/projects/:projectId/properties/:propertyId':               PROJECT_OWNERS,
  'PATCH /v1/projects/:projectId/properties/:propertyId · a property of another project':          OWNERS_NOT_FOUND,
  'DELETE /v1/projects/:projectId/properties/:propertyId':              PROJECT_OWNERS,
  'DELETE /v1/projects/:projectId/properties/:propertyId · a property of another project':         OWNERS_NOT_FOUND,
  'PUT /v1/projects/:projectId/property-settings':                      PROJECT_OWNERS,
  'POST /v1/projects/:projectId/leads/search':                          PROJECT_AGENTS,
  'POST /v1/projects/:projectId/leads/export.csv':                      PROJECT_OWNERS,
  'POST /v1/projects/:projectId/leads/bulk':                            PROJECT_OWNERS,
  // Segments: every agent of the project saves and lists them.
  'GET /v1/projects/:projectId/segments':                               PROJECT_AGENTS,
  'POST /v1/projects/:projectId/segments':                              PROJECT_AGENTS,
  'GET /v1/projects/:projectId/segments/:segmentId':                    PROJECT_AGENTS,
  'GET /v1/projects/:projectId/segments/:segmentId · a segment of another project':               AGENTS_NOT_FOUND,
  'PATCH /v1/projects/:projectId/segments/:segmentId':                  PROJECT_AGENTS,
  'PATCH /v1/projects/:projectId/segments/:segmentId · a segment of another project':             AGENTS_NOT_FOUND,
  'DELETE /v1/projects/:projectId/segments/:segmentId':                 PROJECT_AGENTS,
  'DELETE /v1/projects/:projectId/segments/:segmentId · a segment of another project':            AGENTS_NOT_FOUND,
  'GET /v1/projects/:projectId/segments/:segmentId/leads':              PROJECT_AGENTS,
  'GET /v1/projects/:projectId/segments/:segmentId/leads · a segment of another project':         AGENTS_NOT_FOUND,
} satisfies Record<string, Row>;
type RestKey = keyof typeof REST;

// ---- Socket.IO ----

// Only visitor tokens open /visitor, only agent tokens in good standing open /agent: every other
// caller is refused at the handshake (UNAUTHORIZED). A removed agent's cell also sends the command
// on a socket it opened before the removal: acked UNAUTHORIZED, or already closed by the server.
// prettier-ignore
const
  //                           none forged expired fVis oVis vis mVis agent owner fAgent rmHere rmThere admin
  /** Any visitor, on what is its own (its lead, its list, a conversation it starts, its own token). */
  VISITORS: Row =             [U,   U,     U,      O,   O,   O,  O,   U,    U,    U,     U,     U,      U],
  /** The owning visitor's conversation: every other visitor gets "not found". */
  OWNING_VISITOR: Row =       [U,   U,     U,      N,   N,   O,  N,   U,    U,    U,     U,     U,      U],
  /** The merged-away visitor's own conversation, now on the owning visitor's lead: still only its own. */
  MERGED_AWAY_OWN: Row =      [U,   U,     U,      N,   N,   N,  O,   U,    U,    U,     U,     U,      U],
  /** `session:renew` with the owning visitor's token: no other visitor's socket takes it. */
  OWNING_VISITOR_TOKEN: Row = [U,   U,     U,      U,   U,   O,  U,   U,    U,    U,     U,     U,      U],
  /** Any agent in good standing, on what is its own (its token). */
  AGENTS: Row =               [U,   U,     U,      U,   U,   U,  U,   O,    O,    O,     U,     U,      U],
  /** `session:renew` with the owner's token: no other agent's socket takes it. */
  OWNER_TOKEN: Row =          [U,   U,     U,      U,   U,   U,  U,   U,    O,    U,     U,     U,      U],
  /** A conversation of this project: its agents; another project's agent gets "not found". */
  PROJECT_CONVERSATION: Row = [U,   U,     U,      U,   U,   U,  U,   O,    O,    N,     U,     U,      U],
  FOREIGN_CONVERSATION: Row = [U,   U,     U,      U,   U,   U,  U,   N,    N,    O,     U,     U,      U],
  /** A conversation of this project sent to another project's agent or team: nobody finds the target. */
  FOREIGN_TARGET: Row =       [U,   U,     U,      U,   U,   U,  U,   N,    N,    N,     U,     U,      U];

type SocketBaseKey = `${typeof VISITOR_NAMESPACE} ${VisitorCommand}` | `${typeof AGENT_NAMESPACE} ${AgentCommand}`;

/** Every command of both namespaces (the compiler asks for each), and variants after ` · `. */
// prettier-ignore
const SOCKET = {
  '/visitor conversation:start':                                             VISITORS,
  '/visitor message:send':                                                   OWNING_VISITOR,
  "/visitor message:send · the merged-away visitor's own conversation":      MERGED_AWAY_OWN,
  '/visitor lead:update':                                                    VISITORS,
  '/visitor conversation:list':                                              VISITORS,
  '/visitor conversation:history':                                           OWNING_VISITOR,
  "/visitor conversation:history · the merged-away visitor's own conversation": MERGED_AWAY_OWN,
  '/visitor conversation:read':                                              OWNING_VISITOR,
  "/visitor conversation:read · the merged-away visitor's own conversation":  MERGED_AWAY_OWN,
  '/visitor typing':                                                         OWNING_VISITOR,
  "/visitor typing · the merged-away visitor's own conversation":            MERGED_AWAY_OWN,
  '/visitor session:renew':                                                  VISITORS,
  "/visitor session:renew · the owning visitor's token":                     OWNING_VISITOR_TOKEN,
  // Activity (issue 15): any visitor reports its own page views and events (onto its own contact).
  '/visitor page:view':                                                      VISITORS,
  '/visitor event:track':                                                    VISITORS,
  '/agent conversation:join':                                                PROJECT_CONVERSATION,
  '/agent conversation:join · a conversation of another project':            FOREIGN_CONVERSATION,
  '/agent conversation:close':                                               PROJECT_CONVERSATION,
  '/agent conversation:close · a conversation of another project':           FOREIGN_CONVERSATION,
  '/agent conversation:resolve':                                             PROJECT_CONVERSATION,
  '/agent conversation:resolve · a conversation of another project':         FOREIGN_CONVERSATION,
  '/agent conversation:reopen':                                              PROJECT_CONVERSATION,
  '/agent conversation:reopen · a conversation of another project':          FOREIGN_CONVERSATION,
  '/agent conversation:pend':                                                PROJECT_CONVERSATION,
  '/agent conversation:pend · a conversation of another project':            FOREIGN_CONVERSATION,
  '/agent conversation:snooze':                                              PROJECT_CONVERSATION,
  '/agent conversation:snooze · a conversation of another project':          FOREIGN_CONVERSATION,
  '/agent conversation:read':                                                PROJECT_CONVERSATION,
  '/agent conversation:read · a conversation of another project':            FOREIGN_CONVERSATION,
  '/agent conversation:transfer':                                            PROJECT_CONVERSATION,
  '/agent conversation:transfer · a conversation of another project':        FOREIGN_CONVERSATION,
  '/agent conversation:transfer · to an agent of another project':           FOREIGN_TARGET,
  '/agent conversation:transfer · to a team of another project':             FOREIGN_TARGET,
  '/agent agent:status':                                                     AGENTS,
  '/agent message:send':                                                     PROJECT_CONVERSATION,
  '/agent message:send · a conversation of another project':                 FOREIGN_CONVERSATION,
  '/agent conversation:history':                                             PROJECT_CONVERSATION,
  '/agent conversation:history · a conversation of another project':         FOREIGN_CONVERSATION,
  '/agent typing':                                                           PROJECT_CONVERSATION,
  '/agent typing · a conversation of another project':                       FOREIGN_CONVERSATION,
  '/agent session:renew':                                                    AGENTS,
  "/agent session:renew · the owner's token":                                OWNER_TOKEN,
} satisfies Record<SocketBaseKey, Row> & Record<string, Row>;
type SocketKey = keyof typeof SOCKET;

// ---- how each row is exercised ----

type VisitorCaller = 'visitor' | 'otherVisitor' | 'mergedVisitor' | 'foreignVisitor';
const VISITOR_CALLERS: VisitorCaller[] = ['visitor', 'otherVisitor', 'mergedVisitor', 'foreignVisitor'];

interface VisitorFixture {
  token: string;
  userId: string;
  /** Its lead (before a merge: the merged-away visitor's own, now merged into the owning visitor's). */
  leadId: string;
  /** A conversation it started. */
  conversationId: string;
  /** What nobody but this visitor and its project's agents may see. */
  markers: Record<string, string>;
}

interface MatrixNode {
  name: 'A' | 'B';
  url: string;
}

interface World {
  nodes: [MatrixNode, MatrixNode];
  home: { id: string; name: string; secret: string };
  foreignProjectId: string;
  /** A project whose secret the admin rotates (the home project's secret signs the verified row). */
  spareProjectId: string;
  owner: TestAgent;
  agent: TestAgent;
  /** A bystander agent of the home project, renamed and logged in as by the rows. */
  spare: TestAgent;
  foreignAgent: TestAgent;
  /** A bystander agent of the other project, named under the home project's path. */
  foreignSpare: TestAgent;
  /** The agents removed through node A and through node B. */
  removed: Record<MatrixNode['name'], TestAgent>;
  visitors: Record<VisitorCaller, VisitorFixture>;
  /** The owning visitor's second conversation, which agents close (and resolve, reopen, pend, snooze). */
  closable: string;
  /** A canned response of the home project, and one of the other project. */
  cannedResponseId: string;
  foreignCannedResponseId: string;
  /** A team of the home project (the agent in it), and one of the other project (the foreign spare in it). */
  teamId: string;
  foreignTeamId: string;
  /** A webhook of the home project with one delivery (its test event), and the same of the other project. */
  webhookId: string;
  deliveryId: string;
  foreignWebhookId: string;
  foreignDeliveryId: string;
  /** A contact property of the home project, and one of the other project. */
  propertyId: string;
  foreignPropertyId: string;
  /** A segment of the home project, and one of the other project. */
  segmentId: string;
  foreignSegmentId: string;
  /** A contact import of the home project, and one of the other project. */
  importId: string;
  foreignImportId: string;
  /** The forged tokens, each with what it forges. */
  forged: [label: string, token: string][];
  expired: [label: string, token: string][];
}

/** One cell: who calls, on which node (every token of the caller is tried in it, see `tokensOf`). */
interface Cell {
  caller: Caller;
  node: MatrixNode;
  w: World;
}

interface RestRequest {
  /** Path parameters beyond the defaults (the home project, the owning visitor's lead and conversation, the spare agent). */
  params?: Partial<
    Record<
      | 'projectId'
      | 'leadId'
      | 'conversationId'
      | 'agentId'
      | 'cannedResponseId'
      | 'teamId'
      | 'webhookId'
      | 'deliveryId'
      | 'noteId'
      | 'propertyId'
      | 'segmentId'
      | 'importId',
      string
    >
  >;
  body?: unknown;
  /** A query string (without `?`), a raw body and its content type: the CSV import. */
  query?: string;
  rawBody?: string;
  contentType?: string;
  /** Instead of the caller's token (a fresh account of the caller's kind). */
  token?: string;
}
type RestCall = (c: Cell) => RestRequest | Promise<RestRequest>;

const PASSWORD = 'correct horse battery staple';
const HOME_TEAM = 'Matrix home team';
const FOREIGN_TEAM = 'Matrix foreign team';
const NEW_PASSWORD = 'a brand new password for the matrix';
const JWT_SECRET = 'test-jwt-secret-0123456789abcdef0123456789';
const WRONG_SECRET = 'not-the-jwt-secret-0123456789abcdef012345';
let unique = 0;
const uniqueEmail = () => `matrix-${process.pid}-${unique++}@example.com`;

const nothing: RestCall = () => ({});
const emptyBody: RestCall = () => ({ body: {} });
const sameName: RestCall = (c) => ({ body: { name: c.w.home.name } });
const renameSpare: RestCall = () => ({ body: { name: 'Spare agent' } });
const foreignSpare =
  (body?: unknown): RestCall =>
  (c) => ({ params: { agentId: c.w.foreignSpare.id }, ...(body === undefined ? {} : { body }) });
const freshTarget =
  (body?: unknown): RestCall =>
  async (c) => ({ params: { agentId: await freshAgent(c.w) }, ...(body === undefined ? {} : { body }) });
const foreignLead =
  (body?: unknown): RestCall =>
  (c) => ({ params: { leadId: c.w.visitors.foreignVisitor.leadId }, ...(body === undefined ? {} : { body }) });
const foreignConversation: RestCall = (c) => ({
  params: { conversationId: c.w.visitors.foreignVisitor.conversationId },
});
const foreignCannedResponse =
  (body?: unknown): RestCall =>
  (c) => ({ params: { cannedResponseId: c.w.foreignCannedResponseId }, ...(body === undefined ? {} : { body }) });
const renderFor: RestCall = (c) => ({ body: { conversationId: c.w.visitors.visitor.conversationId } });
const foreignTeam =
  (body?: unknown): RestCall =>
  (c) => ({ params: { teamId: c.w.foreignTeamId }, ...(body === undefined ? {} : { body }) });
const foreignWebhook =
  (body?: unknown): RestCall =>
  (c) => ({
    params: { webhookId: c.w.foreignWebhookId, deliveryId: c.w.foreignDeliveryId },
    ...(body === undefined ? {} : { body }),
  });
/** Where webhooks of the matrix point: nothing listens there, and no row sends them an event they want. */
const MATRIX_WEBHOOK = { url: 'http://127.0.0.1:9/matrix', events: ['lead.deleted'] };

/** An agent changes its own password: a fresh account of the caller's kind, since it signs the agent out. */
const ownPasswordChange: RestCall = async (c) => {
  const { home, foreignProjectId, nodes } = c.w;
  const account: Partial<Record<Caller, [projectId: string, role: 'owner' | 'agent']>> = {
    agent: [home.id, 'agent'],
    owner: [home.id, 'owner'],
    foreignAgent: [foreignProjectId, 'agent'],
  };
  const fresh = account[c.caller];
  const self = fresh ? await createAgent(nodes[0].url, ...fresh) : undefined;
  return {
    ...(self ? { token: self.token } : {}),
    body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
  };
};

/**
 * What each REST row sends. Mutations that succeed act on something made for the cell (a fresh
 * agent, fresh contacts), so no cell takes away what another one needs.
 */
const REST_CALLS: Record<RestKey, RestCall> = {
  'GET /healthz': nothing,
  'GET /readyz': nothing,
  'GET /metrics': nothing,
  'GET /v1/openapi.json': nothing,
  'GET /v1/asyncapi.json': nothing,
  'GET /v1/projects/:projectId/widget': nothing,
  'POST /v1/projects/:projectId/auth/anonymous': emptyBody,
  'POST /v1/projects/:projectId/auth/verified': (c) => ({ body: { token: customerToken(c.w.home.secret) } }),
  'POST /v1/agents/login': (c) => ({ body: { email: c.w.spare.email, password: c.w.spare.password } }),
  'GET /v1/me': nothing,
  'POST /v1/auth/refresh': emptyBody,
  'POST /v1/agents/me/password': ownPasswordChange,
  'POST /v1/admin/projects': () => ({ body: { name: 'Matrix project' } }),
  'GET /v1/admin/projects/:projectId': nothing,
  'PATCH /v1/admin/projects/:projectId': sameName,
  'POST /v1/admin/projects/:projectId/secret/rotate': (c) => ({ params: { projectId: c.w.spareProjectId } }),
  'POST /v1/admin/projects/:projectId/agents': () => ({
    body: { email: uniqueEmail(), password: PASSWORD, name: 'Matrix agent' },
  }),
  'GET /v1/admin/projects/:projectId/agents': nothing,
  'PATCH /v1/admin/projects/:projectId/agents/:agentId': renameSpare,
  'PATCH /v1/admin/projects/:projectId/agents/:agentId · an agent of another project': foreignSpare({ name: 'Matrix' }),
  'POST /v1/admin/projects/:projectId/agents/:agentId/password': freshTarget({ password: NEW_PASSWORD }),
  'POST /v1/admin/projects/:projectId/agents/:agentId/password · an agent of another project': foreignSpare({
    password: NEW_PASSWORD,
  }),
  'DELETE /v1/admin/projects/:projectId/agents/:agentId': freshTarget(),
  'DELETE /v1/admin/projects/:projectId/agents/:agentId · an agent of another project': foreignSpare(),
  'GET /v1/projects/:projectId': nothing,
  'PATCH /v1/projects/:projectId': sameName,
  'GET /v1/projects/:projectId/agents': nothing,
  'PATCH /v1/projects/:projectId/agents/:agentId': renameSpare,
  'PATCH /v1/projects/:projectId/agents/:agentId · an agent of another project': foreignSpare({ name: 'Matrix' }),
  'POST /v1/projects/:projectId/agents/:agentId/password': freshTarget({ password: NEW_PASSWORD }),
  'POST /v1/projects/:projectId/agents/:agentId/password · an agent of another project': foreignSpare({
    password: NEW_PASSWORD,
  }),
  'DELETE /v1/projects/:projectId/agents/:agentId': freshTarget(),
  'DELETE /v1/projects/:projectId/agents/:agentId · an agent of another project': foreignSpare(),
  'GET /v1/projects/:projectId/leads': nothing,
  'GET /v1/projects/:projectId/leads/export.csv': nothing,
  'POST /v1/projects/:projectId/leads': () => ({ body: { fullname: 'Matrix contact' } }),
  'POST /v1/projects/:projectId/leads/imports': () => ({
    query: `matchKey=email&mapping=${encodeURIComponent(JSON.stringify({ email: 'email' }))}`,
    rawBody: `email\n${uniqueEmail()}\n`,
    contentType: 'text/csv',
  }),
  'GET /v1/projects/:projectId/leads/imports/:importId': nothing,
  'GET /v1/projects/:projectId/leads/imports/:importId · an import of another project': (c) => ({
    params: { importId: c.w.foreignImportId },
  }),
  'GET /v1/projects/:projectId/leads/imports/:importId/errors.csv': nothing,
  'GET /v1/projects/:projectId/leads/imports/:importId/errors.csv · an import of another project': (c) => ({
    params: { importId: c.w.foreignImportId },
  }),
  'GET /v1/projects/:projectId/leads/:leadId': nothing,
  'GET /v1/projects/:projectId/leads/:leadId · a lead of another project': foreignLead(),
  'PATCH /v1/projects/:projectId/leads/:leadId': () => ({ body: { tags: ['matrix'] } }),
  'PATCH /v1/projects/:projectId/leads/:leadId · a lead of another project': foreignLead({ tags: ['matrix'] }),
  'POST /v1/projects/:projectId/leads/:leadId/merge': async (c) => ({
    params: { leadId: await freshLead(c.w) },
    body: { sourceLeadIds: [await freshLead(c.w)] },
  }),
  'POST /v1/projects/:projectId/leads/:leadId/merge · a source lead of another project': async (c) => ({
    params: { leadId: await freshLead(c.w) },
    body: { sourceLeadIds: [c.w.visitors.foreignVisitor.leadId] },
  }),
  'DELETE /v1/projects/:projectId/leads/:leadId': async (c) => ({ params: { leadId: await freshLead(c.w) } }),
  'DELETE /v1/projects/:projectId/leads/:leadId · a lead of another project': foreignLead(),
  // A fresh contact each: blocking the row visitors' own would refuse them in every later cell.
  'POST /v1/projects/:projectId/leads/:leadId/block': async (c) => ({ params: { leadId: await freshLead(c.w) } }),
  'POST /v1/projects/:projectId/leads/:leadId/block · a lead of another project': foreignLead(),
  'POST /v1/projects/:projectId/leads/:leadId/unblock': async (c) => ({ params: { leadId: await freshLead(c.w) } }),
  'POST /v1/projects/:projectId/leads/:leadId/unblock · a lead of another project': foreignLead(),
  'GET /v1/projects/:projectId/leads/:leadId/notes': nothing,
  'GET /v1/projects/:projectId/leads/:leadId/timeline': nothing,
  'GET /v1/projects/:projectId/leads/:leadId/timeline · a lead of another project': foreignLead(),
  'GET /v1/projects/:projectId/visitors/live': nothing,
  'GET /v1/projects/:projectId/leads/:leadId/notes · a lead of another project': foreignLead(),
  'POST /v1/projects/:projectId/leads/:leadId/notes': () => ({ body: { text: 'Matrix note' } }),
  'POST /v1/projects/:projectId/leads/:leadId/notes · a lead of another project': foreignLead({ text: 'Matrix note' }),
  'PATCH /v1/projects/:projectId/leads/:leadId/notes/:noteId': async (c) => ({
    params: await freshNote(c, 'caller'),
    body: { text: 'Matrix edit' },
  }),
  'PATCH /v1/projects/:projectId/leads/:leadId/notes/:noteId · a note of another agent': async (c) => ({
    params: await freshNote(c, 'spare'),
    body: { text: 'Matrix edit' },
  }),
  'PATCH /v1/projects/:projectId/leads/:leadId/notes/:noteId · a lead of another project': async (c) => ({
    params: { ...(await freshNote(c, 'caller')), leadId: c.w.visitors.foreignVisitor.leadId },
    body: { text: 'Matrix edit' },
  }),
  'DELETE /v1/projects/:projectId/leads/:leadId/notes/:noteId': async (c) => ({ params: await freshNote(c, 'caller') }),
  'DELETE /v1/projects/:projectId/leads/:leadId/notes/:noteId · a note of another agent': async (c) => ({
    params: await freshNote(c, 'spare'),
  }),
  'DELETE /v1/projects/:projectId/leads/:leadId/notes/:noteId · a lead of another project': async (c) => ({
    params: { ...(await freshNote(c, 'caller')), leadId: c.w.visitors.foreignVisitor.leadId },
  }),
  'GET /v1/projects/:projectId/conversations': nothing,
  'GET /v1/projects/:projectId/conversations/:conversationId': nothing,
  'GET /v1/projects/:projectId/conversations/:conversationId · a conversation of another project': foreignConversation,
  'GET /v1/projects/:projectId/conversations/:conversationId/messages': nothing,
  'GET /v1/projects/:projectId/conversations/:conversationId/messages · a conversation of another project':
    foreignConversation,
  'GET /v1/projects/:projectId/canned-responses': nothing,
  'POST /v1/projects/:projectId/canned-responses': () => ({
    body: { shortCode: `matrix-${process.pid}-${unique++}`, text: 'Hello {{contact.fullname}}' },
  }),
  'GET /v1/projects/:projectId/canned-responses/:cannedResponseId': nothing,
  'GET /v1/projects/:projectId/canned-responses/:cannedResponseId · a canned response of another project':
    foreignCannedResponse(),
  'PATCH /v1/projects/:projectId/canned-responses/:cannedResponseId': () => ({ body: { text: 'Matrix text' } }),
  'PATCH /v1/projects/:projectId/canned-responses/:cannedResponseId · a canned response of another project':
    foreignCannedResponse({ text: 'Matrix text' }),
  'DELETE /v1/projects/:projectId/canned-responses/:cannedResponseId': async (c) => ({
    params: { cannedResponseId: await freshCannedResponse(c.w) },
  }),
  'DELETE /v1/projects/:projectId/canned-responses/:cannedResponseId · a canned response of another project':
    foreignCannedResponse(),
  'POST /v1/projects/:projectId/canned-responses/:cannedResponseId/render': renderFor,
  'POST /v1/projects/:projectId/canned-responses/:cannedResponseId/render · a canned response of another project': (
    c,
  ) => ({ ...foreignCannedResponse()(c), ...renderFor(c) }),
  'POST /v1/projects/:projectId/canned-responses/:cannedResponseId/render · a conversation of another project': (
    c,
  ) => ({ body: { conversationId: c.w.visitors.foreignVisitor.conversationId } }),
  'GET /v1/projects/:projectId/teams': nothing,
  'POST /v1/projects/:projectId/teams': (c) => ({
    body: { name: `Matrix team ${process.pid}-${unique++}`, memberIds: [c.w.agent.id] },
  }),
  'GET /v1/projects/:projectId/teams/:teamId': nothing,
  'GET /v1/projects/:projectId/teams/:teamId · a team of another project': foreignTeam(),
  // The team as it is: both nodes' owners send it at once.
  'PATCH /v1/projects/:projectId/teams/:teamId': (c) => ({ body: { name: HOME_TEAM, memberIds: [c.w.agent.id] } }),
  'PATCH /v1/projects/:projectId/teams/:teamId · a team of another project': (c) =>
    foreignTeam({ name: 'Matrix', memberIds: [c.w.agent.id] })(c),
  'DELETE /v1/projects/:projectId/teams/:teamId': async (c) => ({ params: { teamId: await freshTeam(c.w) } }),
  'DELETE /v1/projects/:projectId/teams/:teamId · a team of another project': foreignTeam(),
  'GET /v1/projects/:projectId/routing': nothing,
  // Manual, as by default: automatic routing would assign the conversations other rows act on.
  'PATCH /v1/projects/:projectId/routing': () => ({ body: { mode: 'manual' } }),
  'GET /v1/projects/:projectId/routing/agents': nothing,
  'PATCH /v1/projects/:projectId/routing/agents/:agentId': () => ({ body: { capacity: 3 } }),
  'PATCH /v1/projects/:projectId/routing/agents/:agentId · an agent of another project': foreignSpare({ capacity: 3 }),
  'GET /v1/projects/:projectId/presence': nothing,
  'GET /v1/projects/:projectId/queue': nothing,
  'GET /v1/projects/:projectId/business-hours': nothing,
  // Off, as by default: the widget row reads the availability.
  'PUT /v1/projects/:projectId/business-hours': () => ({ body: { enabled: false, timeZone: 'Europe/Paris' } }),
  'POST /v1/projects/:projectId/webhooks': () => ({ body: { ...MATRIX_WEBHOOK, description: 'Matrix' } }),
  'GET /v1/projects/:projectId/webhooks': nothing,
  'GET /v1/projects/:projectId/webhooks/:webhookId': nothing,
  'GET /v1/projects/:projectId/webhooks/:webhookId · a webhook of another project': foreignWebhook(),
  'PATCH /v1/projects/:projectId/webhooks/:webhookId': () => ({ body: { description: 'Matrix webhook' } }),
  'PATCH /v1/projects/:projectId/webhooks/:webhookId · a webhook of another project': foreignWebhook({
    description: 'Matrix webhook',
  }),
  // A project has at most 20 webhooks: only the callers that may delete one get a fresh one (4 cells);
  // the others' refused deletions name the shared one.
  'DELETE /v1/projects/:projectId/webhooks/:webhookId': async (c) =>
    c.caller === 'owner' || c.caller === 'admin' ? { params: { webhookId: await freshWebhook(c.w) } } : {},
  'DELETE /v1/projects/:projectId/webhooks/:webhookId · a webhook of another project': foreignWebhook(),
  // Two rotations of one secret at once: one is CONFLICT. Each cell that may rotate has a webhook of its own.
  'POST /v1/projects/:projectId/webhooks/:webhookId/secret/rotate': async (c) =>
    c.caller === 'owner' || c.caller === 'admin' ? { params: { webhookId: await freshWebhook(c.w) } } : {},
  'POST /v1/projects/:projectId/webhooks/:webhookId/secret/rotate · a webhook of another project': foreignWebhook(),
  'POST /v1/projects/:projectId/webhooks/:webhookId/test': nothing,
  'POST /v1/projects/:projectId/webhooks/:webhookId/test · a webhook of another project': foreignWebhook(),
  'GET /v1/projects/:projectId/webhooks/:webhookId/deliveries': nothing,
  'GET /v1/projects/:projectId/webhooks/:webhookId/deliveries · a webhook of another project': foreignWebhook(),
  'POST /v1/projects/:projectId/webhooks/:webhookId/deliveries/:deliveryId/redeliver': nothing,
  'POST /v1/projects/:projectId/webhooks/:webhookId/deliveries/:deliveryId/redeliver · a webhook of another project':
    foreignWebhook(),
  'POST /v1/projects/:projectId/webhooks/:webhookId/deliveries/:deliveryId/redeliver · a delivery of another project': (
    c,
  ) => ({ params: { deliveryId: c.w.foreignDeliveryId } }),
  'GET /v1/projects/:projectId/properties': nothing,
  'POST /v1/projects/:projectId/properties': () => ({
    body: { key: `matrix_${process.pid}_${unique++}`, label: 'Matrix', type: 'number' },
  }),
  'GET /v1/projects/:projectId/properties/:propertyId': nothing,
  'GET /v1/projects/:projectId/properties/:propertyId · a property of another project': (c) => ({
    params: { propertyId: c.w.foreignPropertyId },
  }),
  'PATCH /v1/projects/:projectId/properties/:propertyId': () => ({ body: { label: 'Matrix label' } }),
  'PATCH /v1/projects/:projectId/properties/:propertyId · a property of another project': (c) => ({
    params: { propertyId: c.w.foreignPropertyId },
    body: { label: 'Matrix label' },
  }),
  'DELETE /v1/projects/:projectId/properties/:propertyId': async (c) => ({
    params: { propertyId: await freshProperty(c.w) },
  }),
  'DELETE /v1/projects/:projectId/properties/:propertyId · a property of another project': (c) => ({
    params: { propertyId: c.w.foreignPropertyId },
  }),
  'PUT /v1/projects/:projectId/property-settings': () => ({ body: { definedKeysOnly: false } }),
  'POST /v1/projects/:projectId/leads/search': () => ({
    body: { filter: { and: [{ field: 'kind', op: 'in', value: ['anonymous', 'verified'] }] }, limit: 5 },
  }),
  'POST /v1/projects/:projectId/leads/export.csv': () => ({
    body: { filter: { field: 'kind', op: 'eq', value: 'manual' } },
  }),
  'POST /v1/projects/:projectId/leads/bulk': () => ({
    body: { filter: { field: 'tags', op: 'eq', value: 'matrix-nobody' }, action: { type: 'addTags', tags: ['x'] } },
  }),
  'GET /v1/projects/:projectId/segments': nothing,
  'POST /v1/projects/:projectId/segments': () => ({
    body: { name: 'Matrix', filter: { and: [{ field: 'tags', op: 'eq', value: 'vip' }] } },
  }),
  'GET /v1/projects/:projectId/segments/:segmentId': nothing,
  'GET /v1/projects/:projectId/segments/:segmentId · a segment of another project': (c) => ({
    params: { segmentId: c.w.foreignSegmentId },
  }),
  'PATCH /v1/projects/:projectId/segments/:segmentId': () => ({ body: { name: 'Matrix renamed' } }),
  'PATCH /v1/projects/:projectId/segments/:segmentId · a segment of another project': (c) => ({
    params: { segmentId: c.w.foreignSegmentId },
    body: { name: 'Matrix renamed' },
  }),
  'DELETE /v1/projects/:projectId/segments/:segmentId': async (c) => ({
    params: { segmentId: await freshSegment(c.w) },
  }),
  'DELETE /v1/projects/:projectId/segments/:segmentId · a segment of another project': (c) => ({
    params: { segmentId: c.w.foreignSegmentId },
  }),
  'GET /v1/projects/:projectId/segments/:segmentId/leads': nothing,
  'GET /v1/projects/:projectId/segments/:segmentId/leads · a segment of another project': (c) => ({
    params: { segmentId: c.w.foreignSegmentId },
  }),
};

type SocketCall = (c: Cell, token: string | undefined) => unknown;
const send = (conversationId: string) => ({ conversationId, clientMessageId: randomUUID(), text: 'matrix' });
const owning = (c: Cell) => c.w.visitors.visitor.conversationId;
const mergedAway = (c: Cell) => c.w.visitors.mergedVisitor.conversationId;
const foreign = (c: Cell) => c.w.visitors.foreignVisitor.conversationId;
const anHourAhead = () => new Date(Date.now() + 3_600_000).toISOString();

/** What each socket row sends with its command. */
const SOCKET_CALLS: Record<SocketKey, SocketCall> = {
  '/visitor conversation:start': () => ({}),
  '/visitor message:send': (c) => send(owning(c)),
  "/visitor message:send · the merged-away visitor's own conversation": (c) => send(mergedAway(c)),
  '/visitor lead:update': () => ({ attributes: { matrix: 'seen' } }),
  '/visitor conversation:list': () => ({}),
  '/visitor conversation:history': (c) => ({ conversationId: owning(c) }),
  "/visitor conversation:history · the merged-away visitor's own conversation": (c) => ({
    conversationId: mergedAway(c),
  }),
  '/visitor conversation:read': (c) => ({ conversationId: owning(c), seq: 1 }),
  "/visitor conversation:read · the merged-away visitor's own conversation": (c) => ({
    conversationId: mergedAway(c),
    seq: 1,
  }),
  '/visitor typing': (c) => ({ conversationId: owning(c), typing: false }),
  "/visitor typing · the merged-away visitor's own conversation": (c) => ({
    conversationId: mergedAway(c),
    typing: false,
  }),
  '/visitor session:renew': (_c, token) => ({ token }),
  "/visitor session:renew · the owning visitor's token": (c) => ({ token: c.w.visitors.visitor.token }),
  '/visitor page:view': () => ({ url: 'https://example.com/matrix', title: 'Matrix', referrer: '' }),
  '/visitor event:track': () => ({ name: 'matrix.seen', props: { cell: 1 } }),
  '/agent conversation:join': (c) => ({ conversationId: owning(c) }),
  '/agent conversation:join · a conversation of another project': (c) => ({ conversationId: foreign(c) }),
  '/agent conversation:close': (c) => ({ conversationId: c.w.closable }),
  '/agent conversation:close · a conversation of another project': (c) => ({ conversationId: foreign(c) }),
  '/agent conversation:resolve': (c) => ({ conversationId: c.w.closable }),
  '/agent conversation:resolve · a conversation of another project': (c) => ({ conversationId: foreign(c) }),
  '/agent conversation:reopen': (c) => ({ conversationId: c.w.closable }),
  '/agent conversation:reopen · a conversation of another project': (c) => ({ conversationId: foreign(c) }),
  '/agent conversation:pend': (c) => ({ conversationId: c.w.closable }),
  '/agent conversation:pend · a conversation of another project': (c) => ({ conversationId: foreign(c) }),
  '/agent conversation:snooze': (c) => ({ conversationId: c.w.closable, until: anHourAhead() }),
  '/agent conversation:snooze · a conversation of another project': (c) => ({
    conversationId: foreign(c),
    until: anHourAhead(),
  }),
  '/agent conversation:read': (c) => ({ conversationId: owning(c), seq: 1 }),
  '/agent conversation:read · a conversation of another project': (c) => ({ conversationId: foreign(c), seq: 1 }),
  // The owning visitor's conversation stays open (a resolved one cannot be transferred).
  '/agent conversation:transfer': (c) => ({ conversationId: owning(c), agentId: c.w.owner.id }),
  '/agent conversation:transfer · a conversation of another project': (c) => ({
    conversationId: foreign(c),
    agentId: c.w.foreignAgent.id,
  }),
  '/agent conversation:transfer · to an agent of another project': (c) => ({
    conversationId: owning(c),
    agentId: c.w.foreignSpare.id,
  }),
  '/agent conversation:transfer · to a team of another project': (c) => ({
    conversationId: owning(c),
    teamId: c.w.foreignTeamId,
  }),
  '/agent agent:status': () => ({ status: 'online' }),
  '/agent message:send': (c) => send(owning(c)),
  '/agent message:send · a conversation of another project': (c) => send(foreign(c)),
  '/agent conversation:history': (c) => ({ conversationId: owning(c) }),
  '/agent conversation:history · a conversation of another project': (c) => ({ conversationId: foreign(c) }),
  '/agent typing': (c) => ({ conversationId: owning(c), typing: false }),
  '/agent typing · a conversation of another project': (c) => ({ conversationId: foreign(c), typing: false }),
  '/agent session:renew': (_c, token) => ({ token }),
  "/agent session:renew · the owner's token": (c) => ({ token: c.w.owner.token }),
};

// ---- resources made for one cell ----

async function freshAgent(w: World): Promise<string> {
  const res = await client(w.nodes[0].url).post<AgentResponse>(`/v1/admin/projects/${w.home.id}/agents`, {
    token: TEST_ADMIN_TOKEN,
    body: { email: uniqueEmail(), password: PASSWORD, name: 'Matrix target' },
  });
  if (res.status !== 201) throw new Error(`fresh agent: ${res.status} ${res.text}`);
  return res.body.agent.id;
}

async function freshCannedResponse(w: World): Promise<string> {
  const res = await client(w.nodes[0].url).post<CannedResponse>(`/v1/projects/${w.home.id}/canned-responses`, {
    token: w.owner.token,
    body: { shortCode: `matrix-target-${process.pid}-${unique++}`, text: 'Matrix target' },
  });
  if (res.status !== 201) throw new Error(`fresh canned response: ${res.status} ${res.text}`);
  return res.body.id;
}

async function freshProperty(w: World, projectId = w.home.id, token = w.owner.token): Promise<string> {
  const res = await client(w.nodes[0].url).post<{ id: string }>(`/v1/projects/${projectId}/properties`, {
    token,
    body: { key: `matrix_${process.pid}_${unique++}`, label: 'Matrix property', type: 'text' },
  });
  if (res.status !== 201) throw new Error(`fresh property: ${res.status} ${res.text}`);
  return res.body.id;
}

async function freshSegment(w: World, projectId = w.home.id, token = w.owner.token): Promise<string> {
  const res = await client(w.nodes[0].url).post<{ id: string }>(`/v1/projects/${projectId}/segments`, {
    token,
    body: { name: `Matrix segment ${unique++}`, filter: { field: 'kind', op: 'eq', value: 'anonymous' } },
  });
  if (res.status !== 201) throw new Error(`fresh segment: ${res.status} ${res.text}`);
  return res.body.id;
}

async function freshTeam(w: World): Promise<string> {
  const res = await client(w.nodes[0].url).post<TeamResponse>(`/v1/projects/${w.home.id}/teams`, {
    token: w.owner.token,
    body: { name: `Matrix target ${process.pid}-${unique++}` },
  });
  if (res.status !== 201) throw new Error(`fresh team: ${res.status} ${res.text}`);
  return res.body.team.id;
}

async function freshWebhook(w: World): Promise<string> {
  const res = await client(w.nodes[0].url).post<WebhookCreatedResponse>(`/v1/projects/${w.home.id}/webhooks`, {
    token: TEST_ADMIN_TOKEN,
    body: MATRIX_WEBHOOK,
  });
  if (res.status !== 201) throw new Error(`fresh webhook: ${res.status} ${res.text}`);
  return res.body.webhook.id;
}

/** A webhook of the project, and the delivery of its test event. */
async function webhookWithDelivery(url: string, projectId: string): Promise<[webhookId: string, deliveryId: string]> {
  const created = await client(url).post<WebhookCreatedResponse>(`/v1/projects/${projectId}/webhooks`, {
    token: TEST_ADMIN_TOKEN,
    body: MATRIX_WEBHOOK,
  });
  if (created.status !== 201) throw new Error(`webhook: ${created.status} ${created.text}`);
  const tested = await client(url).post<WebhookDeliveryResponse>(
    `/v1/projects/${projectId}/webhooks/${created.body.webhook.id}/test`,
    { token: TEST_ADMIN_TOKEN },
  );
  if (tested.status !== 202) throw new Error(`webhook test: ${tested.status} ${tested.text}`);
  return [created.body.webhook.id, tested.body.delivery.id];
}

async function freshLead(w: World): Promise<string> {
  const res = await client(w.nodes[0].url).post<Lead>(`/v1/projects/${w.home.id}/leads`, {
    token: w.owner.token,
    body: { fullname: 'Matrix target' },
  });
  if (res.status !== 201) throw new Error(`fresh lead: ${res.status} ${res.text}`);
  return res.body.id;
}

/**
 * A note on a fresh contact, written by the calling agent (its own note; the owner's for callers
 * that are not agents of the project) or by the spare agent (another agent's note).
 */
async function freshNote(c: Cell, by: 'caller' | 'spare'): Promise<{ leadId: string; noteId: string }> {
  const leadId = await freshLead(c.w);
  const author = by === 'spare' ? c.w.spare : c.caller === 'agent' ? c.w.agent : c.w.owner;
  const res = await client(c.w.nodes[0].url).post<{ note: { id: string } }>(
    `/v1/projects/${c.w.home.id}/leads/${leadId}/notes`,
    { token: author.token, body: { text: 'Matrix note' } },
  );
  if (res.status !== 201) throw new Error(`fresh note: ${res.status} ${res.text}`);
  return { leadId, noteId: res.body.note.id };
}

/** What a customer's backend signs for a verified visitor. */
function customerToken(secret: string): string {
  return jwt.sign({ sub: 'matrix-verified-user' }, secret, { algorithm: 'HS256', expiresIn: 600 });
}

// ---- the table's completeness ----

const endpointOf = (key: string): string => key.split(' · ')[0] ?? key;

function missingRestRow(endpoint: string, served: boolean, documented: boolean): string {
  const where = [served ? 'served by the server' : '', documented ? 'listed in /v1/openapi.json' : '']
    .filter(Boolean)
    .join(', ');
  return [
    `The role matrix has no row for ${endpoint} (${where}). In test/src/role-matrix.test.ts, decide what`,
    `every kind of caller gets and add to REST a line such as`,
    `    '${endpoint}': PROJECT_OWNERS,   // or PUBLIC, ANY_TOKEN, ANY_AGENT, ADMIN, PROJECT_AGENTS, or a Row of its own`,
    `and to REST_CALLS how a cell exercises it on the caller's resources (path parameters, a body that succeeds):`,
    `    '${endpoint}': (c) => ({ params: { … }, body: { … } }),`,
    `If it takes the id of something a project owns, add a row '${endpoint} · … of another project'`,
    `whose call names another project's one (AGENTS_NOT_FOUND or OWNERS_NOT_FOUND).`,
  ].join('\n');
}

function missingSocketRow(key: string): string {
  return [
    `The role matrix has no row for the command ${key} (in COMMAND_SCHEMAS of @parley/protocol/schemas).`,
    `In test/src/role-matrix.test.ts add to SOCKET a line such as`,
    `    '${key}': PROJECT_CONVERSATION,   // or VISITORS, OWNING_VISITOR, AGENTS, or a Row of its own`,
    `and to SOCKET_CALLS the payload a cell sends: '${key}': (c) => ({ … }),`,
    `If it names a conversation (or anything a user or project owns), add the rows that name someone`,
    `else's: '${key} · a conversation of another project' (FOREIGN_CONVERSATION) on /agent,`,
    `'${key} · the merged-away visitor's own conversation' (MERGED_AWAY_OWN) on /visitor.`,
  ].join('\n');
}

// ---- running a cell ----

/** Each token a caller is tried with: one, or for forged and expired callers, every variant. */
function tokensOf(caller: Caller, node: MatrixNode, w: World): [label: string, token: string | undefined][] {
  const other = node.name === 'A' ? 'B' : 'A';
  switch (caller) {
    case 'none':
      return [['no token', undefined]];
    case 'forged':
      return w.forged;
    case 'expired':
      return w.expired;
    case 'agent':
    case 'owner':
    case 'foreignAgent':
      return [[caller, w[caller].token]];
    case 'removedHere':
      return [[caller, w.removed[node.name].token]];
    case 'removedThere':
      return [[caller, w.removed[other].token]];
    case 'admin':
      return [[caller, TEST_ADMIN_TOKEN]];
    default:
      return [[caller, w.visitors[caller].token]];
  }
}

/** Whose private data each caller may see: itself, and its own project's agents every visitor of it. */
const SEES: Record<Caller, VisitorCaller[]> = {
  none: [],
  forged: [],
  expired: [],
  foreignVisitor: ['foreignVisitor'],
  otherVisitor: ['otherVisitor'],
  visitor: ['visitor'],
  mergedVisitor: ['mergedVisitor'],
  agent: ['visitor', 'otherVisitor', 'mergedVisitor'],
  owner: ['visitor', 'otherVisitor', 'mergedVisitor'],
  foreignAgent: ['foreignVisitor'],
  removedHere: [],
  removedThere: [],
  admin: [],
};

function leaks(w: World, caller: Caller, text: string): string[] {
  return VISITOR_CALLERS.filter((owner) => !SEES[caller].includes(owner)).flatMap((owner) =>
    Object.entries(w.visitors[owner].markers)
      .filter(([, marker]) => text.includes(marker))
      .map(([what]) => `${owner}'s ${what}`),
  );
}

function succeeded(w: World, caller: Caller, shown: string): string {
  const leaked = leaks(w, caller, shown);
  return leaked.length === 0 ? 'ok' : `ok, but shows ${leaked.join(', ')}`;
}

const CODE_OF_STATUS: Record<number, Outcome> = { 401: U, 403: F, 404: N };

function restOutcome(w: World, caller: Caller, res: HttpResult<unknown>): string {
  if (res.status >= 200 && res.status < 300) return succeeded(w, caller, res.text);
  const code = (res.body as Partial<ErrorResponse>).error?.code;
  const expected = CODE_OF_STATUS[res.status];
  return expected && code === expected ? expected : `${res.status} ${code ?? res.text.slice(0, 100)}`;
}

/** The variants' outcomes as one: the outcome when they agree, else each one's. */
function agreed(outcomes: [string, string][]): string {
  const distinct = new Set(outcomes.map(([, outcome]) => outcome));
  return distinct.size === 1
    ? [...distinct][0]!
    : outcomes.map(([label, outcome]) => `${label}: ${outcome}`).join('; ');
}

async function restCell(key: RestKey, c: Cell): Promise<string> {
  const [method = 'GET', template = ''] = endpointOf(key).split(' ');
  const call = await REST_CALLS[key](c);
  const params = {
    projectId: c.w.home.id,
    leadId: c.w.visitors.visitor.leadId,
    conversationId: c.w.visitors.visitor.conversationId,
    agentId: c.w.spare.id,
    cannedResponseId: c.w.cannedResponseId,
    teamId: c.w.teamId,
    webhookId: c.w.webhookId,
    deliveryId: c.w.deliveryId,
    // Note rows always name their own (see freshNote).
    noteId: 'no-such-note',
    propertyId: c.w.propertyId,
    segmentId: c.w.segmentId,
    importId: c.w.importId,
    ...call.params,
  };
  const path =
    template.replace(/:(\w+)/g, (_, name: string) => params[name as keyof typeof params]) +
    (call.query ? `?${call.query}` : '');
  const outcomes = await Promise.all(
    tokensOf(c.caller, c.node, c.w).map(async ([label, callerToken]): Promise<[string, string]> => {
      const token = call.token ?? callerToken;
      try {
        const res = await request(c.node.url, method, path, {
          ...(token === undefined ? {} : { token }),
          ...(call.body === undefined ? {} : { body: call.body }),
          ...(call.rawBody === undefined ? {} : { rawBody: call.rawBody }),
          ...(call.contentType === undefined ? {} : { headers: { 'content-type': call.contentType } }),
        });
        return [label, restOutcome(c.w, c.caller, res)];
      } catch (error) {
        return [label, `failed: ${(error as Error).message.split('\n')[0]}`];
      }
    }),
  );
  return agreed(outcomes);
}

type Handshake = { socket: Socket } | { refused: string };

/** Why each socket was closed, once it was. */
const closedBecause = new WeakMap<Socket, string>();

/** One socket per token, namespace and node, reused by every row; refusals are remembered too. */
const handshakes = new Map<string, Promise<Handshake>>();
const openSockets: Socket[] = [];

function tryHandshake(url: string, namespace: string, token: string | undefined): Promise<Handshake> {
  const socket = io(`${url}${namespace}`, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  openSockets.push(socket);
  socket.on('disconnect', (reason) => closedBecause.set(socket, reason));
  return waitConnected(socket).then(
    () => ({ socket }),
    (error: Error) => {
      socket.close();
      return { refused: error.message };
    },
  );
}

function handshakeOf(node: MatrixNode, namespace: string, token: string | undefined): Promise<Handshake> {
  const key = `${node.name} ${namespace} ${token ?? ''}`;
  let handshake = handshakes.get(key);
  if (!handshake) {
    handshake = tryHandshake(node.url, namespace, token);
    handshakes.set(key, handshake);
  }
  return handshake;
}

/** The command's ack, or how the socket was closed before one came. */
function commandOutcome(w: World, caller: Caller, socket: Socket, name: string, payload: unknown): Promise<string> {
  if (!socket.connected) return Promise.resolve(closedOutcome(socket));
  return new Promise((resolve) => {
    const onClose = () => resolve(closedOutcome(socket));
    socket.once('disconnect', onClose);
    command(socket, name, payload).then(
      (ack) => {
        socket.off('disconnect', onClose);
        resolve(ack.ok ? succeeded(w, caller, JSON.stringify(ack.data)) : ack.error.code);
      },
      (error: Error) => resolve(`failed: ${error.message}`),
    );
  });
}

/** A socket the server closed for a sign-out is the protocol's UNAUTHORIZED (a reconnect is refused so). */
function closedOutcome(socket: Socket): string {
  const reason = closedBecause.get(socket);
  return reason === 'io server disconnect' ? U : `closed (${reason ?? 'not by the server'})`;
}

/** The removed agents' sockets, opened on each node before the removal, by `${node} ${token}`. */
const staleSockets = new Map<string, Socket>();

async function socketCell(key: SocketKey, c: Cell): Promise<string> {
  const [namespace = '', name = ''] = endpointOf(key).split(' ');
  const outcomes = await Promise.all(
    tokensOf(c.caller, c.node, c.w).map(async ([label, token]): Promise<[string, string]> => {
      const payload = SOCKET_CALLS[key](c, token);
      const handshake = await handshakeOf(c.node, namespace, token);
      const fresh =
        'refused' in handshake
          ? handshake.refused
          : await commandOutcome(c.w, c.caller, handshake.socket, name, payload);
      const removed = c.caller === 'removedHere' || c.caller === 'removedThere';
      const stale = removed && namespace === AGENT_NAMESPACE ? staleSockets.get(`${c.node.name} ${token}`) : undefined;
      if (!stale) return [label, fresh];
      const open = await commandOutcome(c.w, c.caller, stale, name, payload);
      return [label, open === fresh ? fresh : `handshake: ${fresh}; socket opened before the removal: ${open}`];
    }),
  );
  return agreed(outcomes);
}

/** Every caller on both nodes at once; one outcome per caller when both nodes agree. */
async function rowOutcomes(w: World, run: (c: Cell) => Promise<string>): Promise<Record<Caller, string>> {
  const cells = await Promise.all(
    CALLERS.map(async (caller) => {
      const [a, b] = await Promise.all(w.nodes.map((node) => run({ caller, node, w })));
      return [caller, a === b ? a : `node A: ${a}; node B: ${b}`] as const;
    }),
  );
  return Object.fromEntries(cells) as Record<Caller, string>;
}

const expectedOf = (row: Row): Record<Caller, string> =>
  Object.fromEntries(CALLERS.map((caller, i) => [caller, row[i]])) as Record<Caller, string>;

// ---- the suite ----

/** The pushes each caller's sockets received, to search for what they may not see. */
const heard: { caller: Caller; node: string; events: { name: string; payload: unknown }[] }[] = [];

function listen(caller: Caller, node: MatrixNode, socket: Socket): void {
  const log = { caller, node: node.name, events: [] as { name: string; payload: unknown }[] };
  heard.push(log);
  socket.onAny((name: string, payload: unknown) => log.events.push({ name, payload }));
}

describe('role matrix', () => {
  let redis: RedisProcess;
  let mongo: SharedMongo;
  let nodeA: RunningServer;
  let nodeB: ParleyProcess;
  let dataDir: string;
  let w: World;

  beforeAll(async () => {
    const dependencies = await Promise.allSettled([startRedis(), startSharedMongo()]);
    if (dependencies[0].status === 'fulfilled') redis = dependencies[0].value;
    if (dependencies[1].status === 'fulfilled') mongo = dependencies[1].value;
    for (const result of dependencies) if (result.status === 'rejected') throw result.reason;
    const shared = {
      MONGODB_URI: mongo.uri,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'matrix:',
      JWT_SECRET,
      // The cheapest hash the configuration takes: rows create and sign in a hundred agents, and
      // what is checked here is who may act, not what a password costs to guess.
      PASSWORD_SCRYPT_N: '1024',
    };
    dataDir = makeTempDir();
    // Node A runs in this process, so that its route table can be read; node B is a process of its own.
    const started = await Promise.allSettled([
      startServer(loadConfig({ ...testServerEnv(dataDir), ...shared })),
      startParley({ env: shared }),
    ]);
    // Whichever started is stopped after, even when the other did not.
    if (started[0].status === 'fulfilled') nodeA = started[0].value;
    if (started[1].status === 'fulfilled') nodeB = started[1].value;
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    const nodes: [MatrixNode, MatrixNode] = [
      { name: 'A', url: nodeA.url },
      { name: 'B', url: nodeB.url },
    ];
    const [A, B] = nodes;

    const [home, foreignProject, spareProject] = await Promise.all([
      createProject(A.url),
      createProject(A.url),
      createProject(A.url),
    ]);
    const P = home.project.id;
    const Q = foreignProject.project.id;
    const [owner, agent, spare, removedA, removedB, foreignAgent, foreignSpare] = await Promise.all([
      createAgent(A.url, P, 'owner'),
      createAgent(A.url, P, 'agent'),
      createAgent(A.url, P, 'agent'),
      createAgent(A.url, P, 'agent'),
      createAgent(A.url, P, 'agent'),
      createAgent(A.url, Q, 'agent'),
      createAgent(A.url, Q, 'agent'),
    ]);
    const signedIn = await Promise.all([
      anonymousVisitor(A.url, P),
      anonymousVisitor(A.url, P),
      anonymousVisitor(A.url, P),
      anonymousVisitor(B.url, Q),
    ]);
    const tokens = Object.fromEntries(VISITOR_CALLERS.map((caller, i) => [caller, signedIn[i]!])) as Record<
      VisitorCaller,
      (typeof signedIn)[number]
    >;

    // Every caller's sockets, on both nodes, opened before the merge and the removals.
    const connect = async (caller: Caller, namespace: string, token: string) => {
      for (const node of nodes) {
        const handshake = await handshakeOf(node, namespace, token);
        if ('refused' in handshake) throw new Error(`${caller} refused on node ${node.name}: ${handshake.refused}`);
        listen(caller, node, handshake.socket);
      }
    };
    await Promise.all([
      ...VISITOR_CALLERS.map((caller) => connect(caller, VISITOR_NAMESPACE, tokens[caller].token)),
      connect('agent', AGENT_NAMESPACE, agent.token),
      connect('owner', AGENT_NAMESPACE, owner.token),
      connect('foreignAgent', AGENT_NAMESPACE, foreignAgent.token),
    ]);
    const socketOf = async (caller: VisitorCaller) => {
      const handshake = await handshakeOf(A, VISITOR_NAMESPACE, tokens[caller].token);
      if ('refused' in handshake) throw new Error(`${caller} has no socket`);
      return handshake.socket;
    };

    // What each visitor owns, and what marks it as theirs.
    const visitors = {} as Record<VisitorCaller, VisitorFixture>;
    let closable = '';
    await Promise.all(
      VISITOR_CALLERS.map(async (caller) => {
        const socket = await socketOf(caller);
        const tag = `${caller}-${randomUUID()}`;
        const email = `${tag.toLowerCase()}@example.com`;
        const text = `private words of ${tag}`;
        const started = await ok<ConversationStartResult>(socket, 'conversation:start', { text });
        // The other visitor gives no email: its lead is the one its first conversation made.
        const leadId =
          caller === 'otherVisitor'
            ? started.conversation.leadId
            : (await ok<LeadUpdateResult>(socket, 'lead:update', { email })).lead.id;
        if (caller === 'visitor') {
          closable = (await ok<ConversationStartResult>(socket, 'conversation:start', {})).conversation.id;
        }
        visitors[caller] = {
          token: tokens[caller].token,
          userId: tokens[caller].user.id,
          leadId,
          conversationId: started.conversation.id,
          markers: {
            'user id': tokens[caller].user.id,
            conversation: started.conversation.id,
            'message text': text,
            ...(caller === 'otherVisitor' ? {} : { email }),
            // The owning visitor's lead is the merged-away visitor's too, now; the others' are their own.
            ...(caller === 'visitor' ? {} : { lead: leadId }),
          },
        };
      }),
    );
    visitors.visitor.markers['second conversation'] = closable;

    // The merged-away visitor: its lead goes into the owning visitor's, through node B.
    const merged = await client(B.url).post(`/v1/projects/${P}/leads/${visitors.visitor.leadId}/merge`, {
      token: owner.token,
      body: { sourceLeadIds: [visitors.mergedVisitor.leadId] },
    });
    if (merged.status !== 200) throw new Error(`merge: ${merged.status} ${merged.text}`);

    // The removed agents: known to both nodes (a request and an open socket on each), then removed,
    // one through node A and one through node B.
    for (const removed of [removedA, removedB]) {
      for (const node of nodes) {
        const used = await client(node.url).get(`/v1/projects/${P}/leads`, { token: removed.token });
        if (used.status !== 200) throw new Error(`removed agent before removal: ${used.status}`);
        const handshake = await tryHandshake(node.url, AGENT_NAMESPACE, removed.token);
        if ('refused' in handshake) throw new Error(`removed agent refused before removal: ${handshake.refused}`);
        await ok(handshake.socket, 'typing', { conversationId: visitors.visitor.conversationId, typing: false });
        staleSockets.set(`${node.name} ${removed.token}`, handshake.socket);
      }
    }
    for (const [removed, node] of [
      [removedA, A],
      [removedB, B],
    ] as const) {
      const res = await client(node.url).delete(`/v1/projects/${P}/agents/${removed.id}`, { token: owner.token });
      if (res.status !== 204) throw new Error(`removal through node ${node.name}: ${res.status} ${res.text}`);
    }
    // From now on they may hear nothing of anyone.
    for (const node of nodes) {
      for (const [removed, caller] of [
        [removedA, node.name === 'A' ? 'removedHere' : 'removedThere'],
        [removedB, node.name === 'B' ? 'removedHere' : 'removedThere'],
      ] as const) {
        listen(caller, node, staleSockets.get(`${node.name} ${removed.token}`)!);
      }
    }
    const [cannedResponse, foreignCannedResponse] = await Promise.all(
      [
        [P, owner],
        [Q, foreignAgent],
      ].map(async ([projectId, author]) => {
        const res = await client(A.url).post<CannedResponse>(`/v1/projects/${projectId as string}/canned-responses`, {
          token: (author as TestAgent).token,
          body: { shortCode: 'matrix', text: 'Hello {{contact.fullname}}' },
        });
        if (res.status !== 201) throw new Error(`canned response: ${res.status} ${res.text}`);
        return res.body.id;
      }),
    );
    // A team in each project; only an owner makes one, and the other project's owner is needed for that alone.
    const foreignOwner = await createAgent(A.url, Q, 'owner');
    const [team, foreignTeam] = await Promise.all(
      [
        [P, owner, HOME_TEAM, agent],
        [Q, foreignOwner, FOREIGN_TEAM, foreignSpare],
      ].map(async ([projectId, author, name, member]) => {
        const res = await client(A.url).post<TeamResponse>(`/v1/projects/${projectId as string}/teams`, {
          token: (author as TestAgent).token,
          body: { name, memberIds: [(member as TestAgent).id] },
        });
        if (res.status !== 201) throw new Error(`team: ${res.status} ${res.text}`);
        return res.body.team.id;
      }),
    );
    const [[webhookId, deliveryId], [foreignWebhookId, foreignDeliveryId]] = await Promise.all([
      webhookWithDelivery(A.url, P),
      webhookWithDelivery(B.url, Q),
    ]);
    const [importId, foreignImportId] = await Promise.all(
      [
        [P, owner],
        [Q, foreignOwner],
      ].map(async ([projectId, author]) => {
        const res = await client(A.url).post<LeadImportResponse>(
          `/v1/projects/${projectId as string}/leads/imports?matchKey=email&mapping=${encodeURIComponent(JSON.stringify({ email: 'email' }))}&dryRun=true`,
          {
            token: (author as TestAgent).token,
            rawBody: 'email\nmatrix-import@example.com\n',
            headers: { 'content-type': 'text/csv' },
          },
        );
        if (res.status !== 202) throw new Error(`import: ${res.status} ${res.text}`);
        return res.body.import.id;
      }),
    );
    const V = visitors.visitor;
    w = {
      nodes,
      home: { id: P, name: home.project.name, secret: home.secret },
      foreignProjectId: Q,
      spareProjectId: spareProject.project.id,
      owner,
      agent,
      spare,
      foreignAgent,
      foreignSpare,
      removed: { A: removedA, B: removedB },
      visitors,
      closable,
      cannedResponseId: cannedResponse as string,
      foreignCannedResponseId: foreignCannedResponse as string,
      teamId: team as string,
      foreignTeamId: foreignTeam as string,
      webhookId,
      deliveryId,
      foreignWebhookId,
      foreignDeliveryId,
      propertyId: '',
      foreignPropertyId: '',
      segmentId: '',
      foreignSegmentId: '',
      importId: importId as string,
      foreignImportId: foreignImportId as string,
      forged: [
        ['wrong key, as the owner', resigned(owner.token, WRONG_SECRET)],
        ['wrong key, as the owning visitor', resigned(V.token, WRONG_SECRET)],
        ['alg none, as the owner', unsigned(owner.token)],
        ['alg none, as the owning visitor', unsigned(V.token)],
        ["the agent's token made an owner's", tampered(agent.token, { role: 'owner' })],
        ["another project's agent's token moved to this project", tampered(foreignAgent.token, { pid: P })],
        [
          "the other visitor's token made the owning visitor's",
          tampered(visitors.otherVisitor.token, { sub: V.userId }),
        ],
      ],
      expired: [
        ["the owner's, expired", expired(owner.token, JWT_SECRET)],
        ["the owning visitor's, expired", expired(V.token, JWT_SECRET)],
      ],
    };
    w.propertyId = await freshProperty(w);
    w.foreignPropertyId = await freshProperty(w, Q, foreignOwner.token);
    w.segmentId = await freshSegment(w);
    w.foreignSegmentId = await freshSegment(w, Q, foreignOwner.token);
  }, 120_000);

  afterAll(async () => {
    for (const socket of openSockets) socket.close();
    await nodeA?.stop();
    await nodeB?.stop();
    nodeB?.cleanup();
    if (dataDir) removeDir(dataDir);
    await mongo?.stop();
    await redis?.stop();
  }, 30_000);

  it('has a row for every REST endpoint the server serves and its OpenAPI document lists', async () => {
    const served = nodeA.routes.map((route) => `${route.method.toUpperCase()} ${route.path}`);
    const document = await client(w.nodes[0].url).get<{ paths: Record<string, Record<string, unknown>> }>(
      '/v1/openapi.json',
    );
    const documented = Object.entries(document.body.paths).flatMap(([path, operations]) =>
      Object.keys(operations)
        .filter((method) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
        .map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect(served.length).toBeGreaterThan(30);
    expect(documented.length).toBeGreaterThan(30);
    const rows = new Set<string>(Object.keys(REST));
    const problems: string[] = [];
    for (const endpoint of new Set([...served, ...documented])) {
      if (!rows.has(endpoint))
        problems.push(missingRestRow(endpoint, served.includes(endpoint), documented.includes(endpoint)));
    }
    for (const key of rows) {
      const endpoint = endpointOf(key);
      if (!served.includes(endpoint) && !documented.includes(endpoint))
        problems.push(`The row ${key} names an endpoint that is neither served nor documented: remove it.`);
      else if (!rows.has(endpoint)) problems.push(`The variant ${key} has no row for ${endpoint} itself.`);
    }
    if (problems.length > 0) throw new Error(problems.join('\n\n'));
  });

  it('has a row for every command of both namespaces in the command map', () => {
    const commands = Object.entries(COMMAND_SCHEMAS).flatMap(([namespace, schemas]) =>
      Object.keys(schemas).map((name) => `${namespace} ${name}`),
    );
    expect(commands).toEqual(expect.arrayContaining(['/visitor conversation:start', '/agent conversation:join']));
    const rows = new Set<string>(Object.keys(SOCKET));
    const problems = commands.filter((key) => !rows.has(key)).map(missingSocketRow);
    for (const key of rows) {
      if (!commands.includes(endpointOf(key)))
        problems.push(`The row ${key} names a command the command map does not have: remove it.`);
    }
    if (problems.length > 0) throw new Error(problems.join('\n\n'));
  });

  it('refuses the forged and expired tokens for what was forged alone', async () => {
    // The same construction with the right key and nothing changed is a token the server takes, on
    // both nodes: the refusals in the table are for the key, the algorithm, the change or the expiry.
    for (const node of w.nodes) {
      for (const token of [w.owner.token, w.visitors.visitor.token]) {
        expect((await client(node.url).get('/v1/me', { token: resigned(token, JWT_SECRET) })).status).toBe(200);
        expect((await client(node.url).get('/v1/me', { token: tampered(token, {}) })).status).toBe(200);
      }
    }
  });

  it.each(Object.keys(REST) as RestKey[])('%s', async (key) => {
    expect(await rowOutcomes(w, (c) => restCell(key, c))).toEqual(expectedOf(REST[key]));
  });

  it.each(Object.keys(SOCKET) as SocketKey[])('%s', async (key) => {
    expect(await rowOutcomes(w, (c) => socketCell(key, c))).toEqual(expectedOf(SOCKET[key]));
  });

  it("changed nothing of another project's through this project's path", async () => {
    // A wrong answer is caught by its row; this catches a change made before a right one.
    const { foreignProjectId: Q, foreignAgent, foreignSpare, foreignTeamId, foreignCannedResponseId } = w;
    const read = <T>(path: string) =>
      client(w.nodes[0].url).get<T>(`/v1/projects/${Q}${path}`, { token: foreignAgent.token });
    const [team, routing, canned] = await Promise.all([
      read<TeamResponse>(`/teams/${foreignTeamId}`),
      read<AgentRoutingListResponse>('/routing/agents'),
      read<CannedResponse>(`/canned-responses/${foreignCannedResponseId}`),
    ]);
    expect({
      team: [team.status, team.body.team?.name, team.body.team?.memberIds],
      spareCapacity: routing.body.items?.find((a) => a.agentId === foreignSpare.id)?.capacity,
      canned: [canned.status, canned.body.text],
    }).toEqual({
      team: [200, FOREIGN_TEAM, [foreignSpare.id]],
      spareCapacity: null,
      canned: [200, 'Hello {{contact.fullname}}'],
    });
  });

  it('pushed nobody anything of a visitor it may not see', () => {
    const seen = heard.flatMap(({ caller, node, events }) =>
      events.flatMap(({ name, payload }) =>
        leaks(w, caller, JSON.stringify(payload)).map((what) => `${caller} on node ${node}: ${name} shows ${what}`),
      ),
    );
    expect(seen).toEqual([]);
    // Not vacuous: the owning visitor heard the agents' messages in its conversation, on both nodes.
    const visitorHeard = heard.filter((log) => log.caller === 'visitor');
    expect(visitorHeard.map((log) => log.events.some((e) => e.name === 'message.created'))).toEqual([true, true]);
  });
});
