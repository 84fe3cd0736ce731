import { createHmac, randomBytes } from 'node:crypto';
import type {
  AgentLoginResponse,
  ConversationStartResult,
  LeadUpdateResult,
  ProjectCreatedResponse,
  TeamResponse,
  VisitorAuthResponse,
} from '@parley/protocol';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './fixtures';
import { client } from './http';
import { TEST_ADMIN_TOKEN } from './parley-process';
import { connectAgent, connectVisitor, ok, type AgentClientSocket, type VisitorClientSocket } from './sockets';
import { setOwn } from './hostile';

/**
 * The world the fuzz suite runs in: two projects, their agents and visitors, the data of users
 * other than the fuzzing ones (marked with strings that must never reach the fuzzing callers),
 * the pools of ids fuzz inputs pick from, and the ledger of what successful answers reported.
 *
 * Fuzz inputs name ids and tokens by symbols (`§conv:3`, `§token:v1`), resolved only when a case
 * runs: a counterexample prints with its symbols and replays in a later run, whose ids differ.
 */

/** The test's own JWT_SECRET (see parley-process.ts), to forge expired tokens with. */
export const FUZZ_JWT_SECRET = 'test-jwt-secret-0123456789abcdef0123456789';

export interface FuzzVisitor {
  token: string;
  userId: string;
  leadId: string;
  conversationId: string;
}

/** Who makes a request; each sees its own things and is refused what is not its. */
export type Caller = 'v1' | 'owner' | 'agent' | 'agentB' | 'admin' | 'none';

/** What each kind of data belongs to, by the marker strings planted in it. */
export interface Markers {
  /** In the lead, conversation and messages of the second visitor of project A. */
  visitorA2: string;
  /** In the lead, conversation and messages of project B's visitor. */
  visitorB: string;
  /** In project B's name. */
  projectB: string;
}

export interface Ledger {
  projects: Set<string>;
  agents: Set<string>;
  leads: Set<string>;
  /** Users whose sign-in answered (a verified sign-in's claims create its lead). */
  users: Set<string>;
  /** Imports a successful answer accepted: the contacts they create carry their id. */
  imports: Set<string>;
  conversations: Set<string>;
  messages: Set<string>;
}

export interface World {
  url: string;
  projectA: { id: string; secret: string };
  projectB: { id: string; secret: string };
  /** The fuzzing owner: every agent and owner REST route. */
  owner: TestAgent;
  /** The fuzzing agent's socket on /agent. */
  agent: TestAgent;
  agentSocket: AgentClientSocket;
  /** An agent of project A whose name, role and password the fuzzing changes. */
  spare: TestAgent;
  agentB: TestAgent;
  /** The fuzzing visitor, on /visitor. */
  v1: FuzzVisitor;
  v1Socket: VisitorClientSocket;
  v2: FuzzVisitor;
  vb: FuzzVisitor;
  markers: Markers;
  /** Conversation ids inputs pick from (`§conv:i`): v1's, v2's, B's, and each v1 starts. */
  conversations: string[];
  /** Lead ids inputs pick from (`§lead:i`): v1's, v2's, B's, and each one created. */
  leads: string[];
  /** Canned response ids inputs pick from (`§canned:i`): project A's, project B's, and each one created. */
  cannedResponses: string[];
  /** Team ids inputs pick from (`§team:i`): project A's, project B's, and each one created. */
  teams: string[];
  /** Webhook ids inputs pick from (`§webhook:i`): project A's, project B's, and each one created. */
  webhooks: string[];
  /** Note ids inputs pick from (`§note:i`): one on v1's lead, one on B's, and each one created. */
  notes: string[];
  /** The lead of each of `notes`, at the same index (`§noteLead:i`). */
  noteLeads: string[];
  /** Contact property ids inputs pick from (`§property:i`): project A's, project B's, and each one created. */
  properties: string[];
  /**
   * Segment ids inputs pick from (`§segment:i`): project A's and project B's only. Those the fuzzing
   * creates hold random filters that a later property change may make unusable; listing one of
   * those is BAD_REQUEST, which would crowd out the cases that get through.
   */
  segments: string[];
  ledger: Ledger;
  /** Problems seen outside an answer (pushes), each with where it was seen. */
  pushProblems: string[];
}

const marker = (name: string) => `zq${name}mark${randomBytes(4).toString('hex')}`;

async function visitorWith(
  url: string,
  projectId: string,
  mark: string | undefined,
): Promise<{ visitor: FuzzVisitor; socket: VisitorClientSocket }> {
  const auth: VisitorAuthResponse = await anonymousVisitor(url, projectId);
  const socket = await connectVisitor(url, auth.token);
  let leadId: string;
  if (mark) {
    const { lead } = await ok<LeadUpdateResult>(socket, 'lead:update', {
      fullname: `Ann ${mark}`,
      email: `${mark}@example.com`,
      attributes: { note: mark },
    });
    leadId = lead.id;
  }
  const started = await ok<ConversationStartResult>(socket, 'conversation:start', {
    text: mark ? `hello from ${mark}` : 'hello',
    clientMessageId: 'seed-1',
  });
  leadId ??= started.conversation.leadId;
  return {
    visitor: { token: auth.token, userId: auth.user.id, leadId, conversationId: started.conversation.id },
    socket,
  };
}

export async function seedWorld(url: string): Promise<World> {
  const markers: Markers = { visitorA2: marker('a2'), visitorB: marker('b'), projectB: marker('proj') };
  const created: ProjectCreatedResponse = await createProject(url);
  const createdB: ProjectCreatedResponse = await createProject(url, { name: `Bee ${markers.projectB}` });
  const projectA = { id: created.project.id, secret: created.secret };
  const projectB = { id: createdB.project.id, secret: createdB.secret };
  const owner = await createAgent(url, projectA.id, 'owner');
  const agent = await createAgent(url, projectA.id, 'agent');
  const spare = await createAgent(url, projectA.id, 'agent');
  const agentB = await createAgent(url, projectB.id, 'owner');
  // Fixtures give every agent one password; the owner's own makes `§owner-password` the owner's alone
  // (another agent changing its password with it would sign itself, and the agent socket, out).
  owner.password = `owner-${randomBytes(8).toString('hex')}`;
  const reset = await client(url).post(`/v1/admin/projects/${projectA.id}/agents/${owner.id}/password`, {
    token: TEST_ADMIN_TOKEN,
    body: { password: owner.password },
  });
  if (reset.status !== 200) throw new Error(`owner password: ${reset.status} ${reset.text}`);
  owner.token = await signIn(url, owner);

  const one = await visitorWith(url, projectA.id, undefined);
  const two = await visitorWith(url, projectA.id, markers.visitorA2);
  const bee = await visitorWith(url, projectB.id, markers.visitorB);
  two.socket.close();
  bee.socket.close();

  // Agents' replies in the others' conversations carry their marks too.
  const agentBSocket = await connectAgent(url, agentB.token);
  await ok(agentBSocket, 'message:send', {
    conversationId: bee.visitor.conversationId,
    clientMessageId: 'seed-reply',
    text: `reply to ${markers.visitorB}`,
  });
  agentBSocket.close();
  // A canned response in each project; B's carries B's mark, so that showing it to A is a leak.
  const cannedResponses: string[] = [];
  for (const [projectId, author, text] of [
    [projectA.id, owner, 'Hello {{contact.fullname}}'],
    [projectB.id, agentB, `Hello from ${markers.projectB}`],
  ] as const) {
    const res = await client(url).post<{ id: string }>(`/v1/projects/${projectId}/canned-responses`, {
      token: author.token,
      body: { shortCode: 'hello', text },
    });
    if (res.status !== 201) throw new Error(`canned response: ${res.status} ${res.text}`);
    cannedResponses.push(res.body.id);
  }
  // A contact property in each project; B's label carries B's mark.
  const properties: string[] = [];
  for (const [projectId, author, label] of [
    [projectA.id, owner, 'Plan'],
    [projectB.id, agentB, `Plan of ${markers.projectB}`],
  ] as const) {
    const res = await client(url).post<{ id: string }>(`/v1/projects/${projectId}/properties`, {
      token: author.token,
      body: { key: 'plan', label, type: 'select', options: ['free', 'pro'], visitorWritable: true },
    });
    if (res.status !== 201) throw new Error(`property: ${res.status} ${res.text}`);
    properties.push(res.body.id);
  }
  // A segment in each project; B's name carries B's mark.
  const segments: string[] = [];
  for (const [projectId, author, name] of [
    [projectA.id, owner, 'Pro plans'],
    [projectB.id, agentB, `Pro plans of ${markers.projectB}`],
  ] as const) {
    const res = await client(url).post<{ id: string }>(`/v1/projects/${projectId}/segments`, {
      token: author.token,
      // On a built-in field: a property's type may change under the fuzzing, and its filters with it.
      body: { name, filter: { field: 'kind', op: 'in', value: ['anonymous', 'verified'] } },
    });
    if (res.status !== 201) throw new Error(`segment: ${res.status} ${res.text}`);
    segments.push(res.body.id);
  }
  // A team in each project (the agents in it); B's name carries B's mark.
  const teams: string[] = [];
  for (const [projectId, author, name, members] of [
    [projectA.id, owner, 'Team A', [agent.id, spare.id]],
    [projectB.id, agentB, `Bee team ${markers.projectB}`, [agentB.id]],
  ] as const) {
    const res = await client(url).post<TeamResponse>(`/v1/projects/${projectId}/teams`, {
      token: author.token,
      body: { name, memberIds: members },
    });
    if (res.status !== 201) throw new Error(`team: ${res.status} ${res.text}`);
    teams.push(res.body.team.id);
  }
  // A webhook in each project (where nothing listens); B's carries B's mark, so that showing it to A is a leak.
  const webhooks: string[] = [];
  for (const [projectId, description] of [
    [projectA.id, 'Fuzz'],
    [projectB.id, `Hook of ${markers.projectB}`],
  ] as const) {
    const res = await client(url).post<{ webhook: { id: string } }>(`/v1/projects/${projectId}/webhooks`, {
      token: TEST_ADMIN_TOKEN,
      body: { url: 'http://127.0.0.1:9/fuzz', events: ['lead.deleted'], description },
    });
    if (res.status !== 201) throw new Error(`webhook: ${res.status} ${res.text}`);
    webhooks.push(res.body.webhook.id);
  }
  // A note on a lead of each project; B's carries B's mark, so that showing it to A is a leak.
  const notes: string[] = [];
  const noteLeads: string[] = [];
  for (const [projectId, leadId, author, text] of [
    [projectA.id, one.visitor.leadId, owner, 'A note'],
    [projectB.id, bee.visitor.leadId, agentB, `Note of ${markers.projectB}`],
  ] as const) {
    const res = await client(url).post<{ note: { id: string } }>(`/v1/projects/${projectId}/leads/${leadId}/notes`, {
      token: author.token,
      body: { text },
    });
    if (res.status !== 201) throw new Error(`note: ${res.status} ${res.text}`);
    notes.push(res.body.note.id);
    noteLeads.push(leadId);
  }
  const agentSocket = await connectAgent(url, agent.token);
  await ok(agentSocket, 'message:send', {
    conversationId: two.visitor.conversationId,
    clientMessageId: 'seed-reply',
    text: `reply to ${markers.visitorA2}`,
  });

  return {
    url,
    projectA,
    projectB,
    owner,
    agent,
    agentSocket,
    spare,
    agentB,
    v1: one.visitor,
    v1Socket: one.socket,
    v2: two.visitor,
    vb: bee.visitor,
    markers,
    conversations: [one.visitor.conversationId, two.visitor.conversationId, bee.visitor.conversationId],
    leads: [one.visitor.leadId, two.visitor.leadId, bee.visitor.leadId],
    cannedResponses,
    teams,
    webhooks,
    notes,
    noteLeads,
    properties,
    segments,
    ledger: {
      projects: new Set(),
      agents: new Set(),
      leads: new Set(),
      users: new Set(),
      imports: new Set(),
      conversations: new Set(),
      messages: new Set(),
    },
    pushProblems: [],
  };
}

/** The markers a caller must never receive. */
export function forbiddenFor(world: World, caller: Caller): string[] {
  const { visitorA2, visitorB, projectB } = world.markers;
  switch (caller) {
    case 'v1':
    case 'none':
      return [visitorA2, visitorB, projectB];
    case 'owner':
    case 'agent':
      return [visitorB, projectB];
    case 'agentB':
      return [visitorA2];
    case 'admin':
      // The admin API reads projects (B's name included) and agents, never contacts or messages.
      return [visitorA2, visitorB];
  }
}

export function tokenOf(world: World, caller: Caller): string | undefined {
  switch (caller) {
    case 'v1':
      return world.v1.token;
    case 'owner':
      return world.owner.token;
    case 'agent':
      return world.agent.token;
    case 'agentB':
      return world.agentB.token;
    case 'admin':
      return TEST_ADMIN_TOKEN;
    case 'none':
      return undefined;
  }
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An HS256 JWT of any payload, even one a JWT library would refuse to sign. */
export function signHs256(payload: unknown, secret: string, header: Record<string, unknown> = {}): string {
  const head = `${base64url({ alg: 'HS256', typ: 'JWT', ...header })}.${base64url(payload)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
}

/** `token` with its payload changed and signed again with the test's JWT_SECRET (same header). */
function resigned(token: string, change: (payload: Record<string, unknown>) => void): string {
  const [header = ''] = token.split('.');
  const claims = claimsOf(token);
  change(claims);
  const head = JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>;
  return signHs256(claims, FUZZ_JWT_SECRET, head);
}

/** What a symbol (`§name` or `§name:index`) stands for now. */
function symbolValue(world: World, name: string, index: number): unknown {
  const pick = <T>(list: T[]) => list[index % list.length];
  switch (name) {
    case 'projectA':
      return world.projectA.id;
    case 'projectB':
      return world.projectB.id;
    case 'conv':
      return pick(world.conversations);
    case 'lead':
      return pick(world.leads);
    case 'canned':
      return pick(world.cannedResponses);
    case 'team':
      return pick(world.teams);
    case 'webhook':
      return pick(world.webhooks);
    case 'note':
      return pick(world.notes);
    case 'noteLead':
      return pick(world.noteLeads);
    case 'property':
      return pick(world.properties);
    case 'segment':
      return pick(world.segments);
    case 'until-soon':
      return new Date(Date.now() + 3_600_000).toISOString();
    case 'owner':
      return world.owner.id;
    case 'agent':
      return world.agent.id;
    case 'spare':
      return world.spare.id;
    case 'agentB':
      return world.agentB.id;
    case 'owner-email':
      return world.owner.email;
    case 'spare-email':
      return world.spare.email;
    case 'agentB-email':
      return world.agentB.email;
    case 'owner-password':
      return world.owner.password;
    case 'spare-password':
      return world.spare.password;
    case 'token-v1':
      return world.v1.token;
    case 'token-v2':
      return world.v2.token;
    case 'token-vb':
      return world.vb.token;
    case 'token-owner':
      return world.owner.token;
    case 'token-agent':
      return world.agent.token;
    case 'token-agentB':
      return world.agentB.token;
    case 'token-admin':
      return TEST_ADMIN_TOKEN;
    case 'token-v1-expired':
      return resigned(world.v1.token, (c) => {
        c['exp'] = Math.floor(Date.now() / 1000) - 3600;
      });
    case 'token-agent-expired':
      return resigned(world.agent.token, (c) => {
        c['exp'] = Math.floor(Date.now() / 1000) - 3600;
      });
    case 'token-v1-other-project':
      // v1's token moved to project B, signed with another key than the server's.
      return signHs256({ ...claimsOf(world.v1.token), pid: world.projectB.id }, 'not-the-jwt-secret');
    case 'exp-soon':
      return Math.floor(Date.now() / 1000) + 300;
    case 'exp-past':
      return Math.floor(Date.now() / 1000) - 3600;
    case 'exp-far':
      return Math.floor(Date.now() / 1000) + 30 * 24 * 3600;
    case 'now':
      return Math.floor(Date.now() / 1000);
    case 'token-v1-tampered':
      return `${world.v1.token.slice(0, -2)}${world.v1.token.endsWith('A') ? 'BB' : 'AA'}`;
    case 'token-v1-alg-none': {
      const [, payload] = world.v1.token.split('.');
      return `${base64url({ alg: 'none', typ: 'JWT' })}.${payload}.`;
    }
    default:
      return undefined;
  }
}

const SYMBOL = /^§([a-zA-Z0-9-]+)(?::(\d+))?$/;

/**
 * The input with its symbols replaced: strings `§name[:i]` by the id or token they name, and an
 * object `{ "§sign": claims, "§with": "A" | "B" | "wrong" }` by a customer token of those claims.
 */
export function resolveSymbols(world: World, value: unknown, depth = 0): unknown {
  // Symbols sit near the top; below, values are hostile nesting, left as they are (and off the stack).
  if (depth > 16) return value;
  if (typeof value === 'string') {
    const match = SYMBOL.exec(value);
    if (!match) return value;
    return symbolValue(world, match[1] ?? '', Number(match[2] ?? 0)) ?? value;
  }
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map((v) => resolveSymbols(world, v, depth + 1));
  const record = value as Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(record, '§sign')) {
    const signer = record['§with'];
    const secret =
      signer === 'A' ? world.projectA.secret : signer === 'B' ? world.projectB.secret : 'not-the-project-secret';
    return signHs256(resolveSymbols(world, record['§sign'], depth + 1), secret);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) setOwn(out, k, resolveSymbols(world, v, depth + 1));
  return out;
}

/** Records what a successful answer reports as created (the database must hold exactly these). */
export function recordAnswer(world: World, entry: string, data: unknown): void {
  const { ledger } = world;
  const body = (data ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const id = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const add = (set: Set<string>, value: unknown) => {
    const v = id(value);
    if (v) set.add(v);
  };
  switch (entry) {
    case '/visitor conversation:start': {
      const conversationId = id(body['conversation']?.['id']);
      if (conversationId && !world.conversations.includes(conversationId)) world.conversations.push(conversationId);
      add(ledger.conversations, conversationId);
      add(ledger.leads, body['conversation']?.['leadId']);
      add(ledger.messages, body['message']?.['id']);
      break;
    }
    case '/visitor message:send': {
      add(ledger.messages, body['message']?.['id']);
      // Into a resolved conversation of a project that starts a new one: the message started it.
      const continued = id(body['conversation']?.['id']);
      if (continued && !world.conversations.includes(continued)) world.conversations.push(continued);
      add(ledger.conversations, continued);
      break;
    }
    case '/agent message:send':
      add(ledger.messages, body['message']?.['id']);
      break;
    case 'POST /v1/projects/:projectId/leads/:leadId/notes': {
      const noteId = id(body['note']?.['id']);
      const noteLead = id(body['note']?.['leadId']);
      if (noteId && noteLead && !world.notes.includes(noteId)) {
        world.notes.push(noteId);
        world.noteLeads.push(noteLead);
      }
      break;
    }
    case 'POST /v1/projects/:projectId/canned-responses': {
      const responseId = id((data as Record<string, unknown>)['id']);
      if (responseId && !world.cannedResponses.includes(responseId)) world.cannedResponses.push(responseId);
      break;
    }
    case 'POST /v1/projects/:projectId/properties': {
      const propertyId = id((data as Record<string, unknown>)['id']);
      if (propertyId && !world.properties.includes(propertyId)) world.properties.push(propertyId);
      break;
    }
    case 'POST /v1/projects/:projectId/teams': {
      const teamId = id(body['team']?.['id']);
      if (teamId && !world.teams.includes(teamId)) world.teams.push(teamId);
      break;
    }
    case '/visitor lead:update':
      add(ledger.leads, body['lead']?.['id']);
      break;
    case 'POST /v1/projects/:projectId/leads/imports':
      add(ledger.imports, body['import']?.['id']);
      break;
    case 'POST /v1/projects/:projectId/webhooks': {
      const webhookId = id(body['webhook']?.['id']);
      if (webhookId && !world.webhooks.includes(webhookId)) world.webhooks.push(webhookId);
      break;
    }
    case 'POST /v1/admin/projects':
      add(ledger.projects, body['project']?.['id']);
      break;
    case 'POST /v1/admin/projects/:projectId/agents':
      add(ledger.agents, body['agent']?.['id']);
      break;
    case 'POST /v1/projects/:projectId/leads': {
      const leadId = id((data as Record<string, unknown>)['id']);
      if (leadId && !world.leads.includes(leadId)) world.leads.push(leadId);
      add(ledger.leads, leadId);
      break;
    }
    case 'POST /v1/projects/:projectId/auth/anonymous':
    case 'POST /v1/projects/:projectId/auth/verified':
      add(ledger.users, body['user']?.['id']);
      break;
    case 'POST /v1/agents/me/password': {
      // The owner's other sessions are signed out; this answer's token is its session now.
      const answer = data as AgentLoginResponse;
      if (answer.agent.id === world.owner.id) world.owner.token = answer.token;
      break;
    }
  }
}

/** Keeps the owner's password the one the fuzzing last set (a successful change answered). */
export function rememberPassword(world: World, agentId: string, password: unknown): void {
  if (typeof password !== 'string') return;
  if (agentId === world.owner.id) world.owner.password = password;
  if (agentId === world.spare.id) world.spare.password = password;
}

async function signIn(url: string, agent: TestAgent): Promise<string> {
  const res = await client(url).post<AgentLoginResponse>('/v1/agents/login', {
    body: { email: agent.email, password: agent.password },
  });
  if (res.status !== 200) throw new Error(`could not sign ${agent.email} in: ${res.status} ${res.text}`);
  return res.body.token;
}

/** Signs the fuzzing owner in again (after a change signed it out), with the password it has now. */
export async function signInAgain(world: World, who: 'owner' | 'spare'): Promise<void> {
  world[who].token = await signIn(world.url, world[who]);
}
