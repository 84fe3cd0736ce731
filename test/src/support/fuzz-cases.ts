import fc from 'fast-check';
import { ERROR_CODES, LIMITS, type AckResponse } from '@parley/protocol';
import { REST_ROUTES, SOCKET_NAMESPACES, type RestRoute } from '@parley/protocol/contract';
import {
  ackSchema,
  clientKeySchema,
  COMMAND_SCHEMAS,
  idSchema,
  tokenSchema,
  verifiedClaimsSchema,
} from '@parley/protocol/schemas';
import { MAX_FRAME_BYTES } from '@parley/server/dist/realtime/socket-server';
import type { Socket } from 'socket.io-client';
import type { z } from 'zod';
import {
  hostilePayload,
  hostileQueryPair,
  hostileRawBody,
  mutate,
  mutations,
  queryPairs,
  queryString,
} from './hostile';
import { request } from './http';
import { command, reconnect } from './sockets';
import {
  forbiddenFor,
  recordAnswer,
  rememberPassword,
  resolveSymbols,
  tokenOf,
  type Caller,
  type World,
} from './fuzz-world';
import { inputArbitrary, type ArbitraryOptions } from './zod-arbitrary';

/**
 * The entry points the fuzz suite drives, read from the contract (every command of the command map,
 * every REST route with a body or a query), how a case for each is drawn, how it is sent, and what
 * its answer must be.
 */

export interface SocketEntry {
  kind: 'socket';
  /** `/visitor message:send` */
  name: string;
  namespace: '/visitor' | '/agent';
  command: string;
  input: z.ZodType;
  /** The whole ack: `{ ok: true, data }` of the command's result schema, or the protocol's error. */
  ack: z.ZodType;
}

export interface RestEntry {
  kind: 'rest';
  /** `PATCH /v1/projects/:projectId/leads/:leadId` */
  name: string;
  route: RestRoute;
}

export type Entry = SocketEntry | RestEntry;

export function fuzzEntries(): Entry[] {
  const sockets: Entry[] = SOCKET_NAMESPACES.flatMap((namespace) =>
    Object.entries(namespace.commands).map(([name, doc]): SocketEntry => {
      const inputs: Record<string, z.ZodType> = COMMAND_SCHEMAS[namespace.path];
      const input = inputs[name];
      if (!input) throw new Error(`no input schema for ${namespace.path} ${name}`);
      return {
        kind: 'socket',
        name: `${namespace.path} ${name}`,
        namespace: namespace.path,
        command: name,
        input,
        ack: ackSchema(doc.result),
      };
    }),
  );
  const rest: Entry[] = REST_ROUTES.filter((route) => route.body || route.query).map((route) => ({
    kind: 'rest',
    name: `${route.method.toUpperCase()} ${route.path}`,
    route,
  }));
  return [...sockets, ...rest];
}

export interface SocketCase {
  /** Absent: the command is emitted with its ack alone. */
  payload?: unknown;
}

export interface RestCase {
  caller: Caller;
  /** Path parameters, already percent-encoded (or symbols). */
  params: Record<string, string>;
  body?: unknown;
  rawBody?: { body: string; contentType: string };
  /** A query object (values are strings or symbols) and pairs already encoded. */
  query?: { valid?: Record<string, unknown>; pairs: [string, string][] };
}

export type FuzzCase = SocketCase | RestCase;

// ---- drawing cases ----

const weighted = <T>(...options: [number, fc.Arbitrary<T>][]) =>
  fc.oneof(...options.map(([weight, arbitrary]) => ({ weight, arbitrary })));

/** An index into a pool of the world (`§conv:i`): the pool grows while the fuzzing runs. */
const symbolOf = (name: string) => fc.nat({ max: 63 }).map((i) => `§${name}:${i}`);

const conversationIds = weighted<unknown>([8, symbolOf('conv')], [1, inputArbitrary(idSchema)]);
const leadIds = weighted<unknown>([8, symbolOf('lead')], [1, inputArbitrary(idSchema)]);
/** Teams of either project, `none` (the conversation filter's "no team"), or any id. */
const teamIds = weighted<unknown>([8, symbolOf('team')], [1, fc.constant('none')], [1, inputArbitrary(idSchema)]);
/** Agents of project A (the fuzzing ones and the spare), project B's, or any id. */
const agentIds = weighted<unknown>(
  [8, fc.constantFrom('§owner', '§agent', '§spare', '§agentB')],
  [1, inputArbitrary(idSchema)],
);
/** A read position: mostly one the conversations have, sometimes anywhere up to the schema's bound. */
const readSeqs = weighted<unknown>(
  [4, fc.integer({ min: 1, max: 3 })],
  [1, fc.integer({ min: 1, max: LIMITS.seqMax })],
);
/** A snooze's end: mostly an hour ahead (taken), else any time (the past and beyond a year refused). */
const snoozeEnds = weighted<unknown>(
  [4, fc.constant('§until-soon')],
  [1, fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString())],
);
const webhookUrls = weighted<unknown>(
  [6, fc.constant('http://127.0.0.1:9/fuzz')],
  [
    1,
    fc.constantFrom(
      'http://[::1]:9/fuzz',
      'ftp://127.0.0.1/fuzz',
      'javascript:alert(1)',
      'file:///etc/passwd',
      'http://user:pass@127.0.0.1:9/',
      'not a url',
    ),
  ],
);
const clientKeys = weighted<unknown>([1, fc.constantFrom('k1', 'k2', 'seed-1')], [2, inputArbitrary(clientKeySchema)]);
/** Tokens for `session:renew`: the socket's own (which renews), and every other kind (which must not). */
const parleyTokens = (own: string) =>
  weighted<unknown>(
    [3, fc.constant(own)],
    [
      6,
      fc.constantFrom(
        '§token-v1',
        '§token-v2',
        '§token-vb',
        '§token-owner',
        '§token-agent',
        '§token-agentB',
        '§token-admin',
        '§token-v1-expired',
        '§token-agent-expired',
        '§token-v1-tampered',
        '§token-v1-alg-none',
        '§token-v1-other-project',
      ),
    ],
    [1, inputArbitrary(tokenSchema)],
  );

/** Customer tokens for the verified sign-in: claims drawn from their schema, signed by A, B or a stranger. */
const customerTokens = weighted<unknown>(
  [
    6,
    fc.record({
      '§sign': inputArbitrary(verifiedClaimsSchema, {
        overrides: {
          exp: weighted<unknown>([6, fc.constant('§exp-soon')], [1, fc.constantFrom('§exp-past', '§exp-far')]),
          iat: fc.constant('§now'),
        },
      }),
      '§with': fc.constantFrom('A', 'A', 'A', 'B', 'wrong'),
    }),
  ],
  [1, inputArbitrary(tokenSchema)],
);

function socketOverrides(entry: SocketEntry): ArbitraryOptions {
  return {
    overrides: {
      conversationId: conversationIds,
      clientMessageId: clientKeys,
      requestId: clientKeys,
      seq: readSeqs,
      until: snoozeEnds,
      // A transfer's target.
      agentId: agentIds,
      teamId: teamIds,
      ...(entry.command === 'session:renew'
        ? { token: parleyTokens(entry.namespace === '/visitor' ? '§token-v1' : '§token-agent') }
        : {}),
    },
  };
}

/** An import's mapping (JSON in the query): mostly one that fits the drawn CSVs, sometimes anything. */
const importMappings = weighted<unknown>(
  [
    6,
    fc.constantFrom(
      JSON.stringify({ email: 'email', name: 'fullname' }),
      JSON.stringify({ email: 'email', name: 'fullname', tags: 'tags', plan: 'attributes.plan' }),
      JSON.stringify({ id: 'userId', email: 'email' }),
      JSON.stringify({ id: 'userId', name: 'ignore', plan: 'attributes.__proto__' }),
    ),
  ],
  [1, fc.string({ maxLength: 60 })],
  [1, fc.json({ maxDepth: 2 })],
);

/** A CSV cell: plain, or anything quoted (quotes doubled), so separators and line breaks land inside fields. */
const csvCellArbitrary = fc.oneof(
  fc.emailAddress(),
  fc.string({ maxLength: 20 }),
  fc.string({ maxLength: 20 }).map((t) => `"${t.replace(/"/g, '""')}"`),
);

/** The CSV body of an import: a header the mappings use and random rows, or any text, as text/csv. */
const importBodies = weighted<{ body: string; contentType: string }>(
  [
    6,
    fc
      .tuple(
        fc.constantFrom('email,name,tags,plan,id', '\uFEFFemail;name;tags;plan;id', 'id,email,name,plan'),
        fc.array(fc.array(csvCellArbitrary, { minLength: 1, maxLength: 5 }), { maxLength: 8 }),
        fc.constantFrom('\n', '\r\n'),
      )
      .map(([header, rows, eol]) => ({
        body: [header, ...rows.map((r) => r.join(header.includes(';') ? ';' : ','))].join(eol) + eol,
        contentType: 'text/csv',
      })),
  ],
  [1, fc.string({ maxLength: 200 }).map((body) => ({ body, contentType: 'text/csv' }))],
  [1, hostileRawBody],
);

function restOverrides(entry: RestEntry): ArbitraryOptions {
  const path = entry.route.path;
  const overrides: Record<string, fc.Arbitrary<unknown>> = {
    sourceLeadIds: weighted<unknown>(
      [6, fc.array(symbolOf('lead'), { minLength: 1, maxLength: 3 })],
      [1, fc.array(inputArbitrary(idSchema), { minLength: 1, maxLength: 3 })],
    ),
    leadId: leadIds,
    // A canned response rendered for a conversation.
    conversationId: conversationIds,
    // The queue's and the conversation list's filter.
    teamId: teamIds,
    memberIds: weighted<unknown>(
      [6, fc.uniqueArray(agentIds, { maxLength: 4 })],
      [1, fc.array(inputArbitrary(idSchema), { maxLength: 3 })],
    ),
  };
  if (path.endsWith('/auth/verified')) overrides['token'] = customerTokens;
  if (path.endsWith('/leads/imports')) overrides['mapping'] = importMappings;
  if (path.endsWith('/business-hours')) {
    // Random text is next to never a time zone (the schema's filter would search forever): mostly
    // real zones, odd offsets and half hours among them, now and then anything.
    overrides['timeZone'] = weighted<unknown>(
      [
        6,
        fc.constantFrom(
          'UTC',
          'Europe/Paris',
          'America/New_York',
          'Asia/Kolkata',
          'Pacific/Chatham',
          'Australia/Lord_Howe',
          'Etc/GMT+12',
          'Pacific/Kiritimati',
        ),
      ],
      [1, fc.string({ maxLength: 40 })],
    );
  }
  // A random cursor is never one the server issued (BAD_REQUEST): mostly none, so that listings get
  // through often enough to be tested (cursors the server issued are tested by each listing's own suite).
  overrides['cursor'] = weighted<unknown>([4, fc.constant(undefined)], [1, fc.string({ maxLength: 40 })]);
  // Webhook URLs: addresses, never names (a name would be resolved, and its deliveries sent, outside
  // the test), where nothing listens; and what the guard must refuse.
  if (path.startsWith('/v1/projects/:projectId/webhooks')) overrides['url'] = webhookUrls;
  // Contact filters: random field names are next to never fields, so mostly real conditions (on
  // built-in fields and the fuzz world's `plan` property), now and then anything.
  if (path.includes('/leads/') || path.includes('/segments')) {
    const condition = fc.oneof(
      fc.record({
        field: fc.constant('properties.plan'),
        op: fc.constantFrom('eq', 'neq'),
        value: fc.constantFrom('free', 'pro'),
      }),
      fc.record({
        field: fc.constantFrom('name', 'email', 'emailDomain'),
        op: fc.constantFrom('eq', 'contains', 'startsWith'),
        value: fc.string({ maxLength: 20 }),
      }),
      fc.record({
        field: fc.constant('createdAt'),
        op: fc.constantFrom('gt', 'lt'),
        value: fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString()),
      }),
      fc.record({
        field: fc.constant('tags'),
        op: fc.constant('in'),
        value: fc.array(fc.constantFrom('vip', 'lead'), { minLength: 1, maxLength: 2 }),
      }),
    );
    overrides['filter'] = weighted<unknown>(
      [3, condition],
      [3, fc.record({ and: fc.array(condition, { minLength: 1, maxLength: 3 }) })],
      [
        2,
        fc.record({
          or: fc.array(fc.oneof(condition, fc.record({ and: fc.array(condition, { minLength: 1, maxLength: 2 }) })), {
            minLength: 1,
            maxLength: 3,
          }),
        }),
      ],
      [1, fc.anything()],
    );
    // Bulk actions change contacts, never erase them here (the fuzz checks that nothing erases).
    if (path.endsWith('/leads/bulk'))
      overrides['action'] = weighted<unknown>(
        [3, fc.record({ type: fc.constantFrom('addTags', 'removeTags'), tags: fc.constant(['bulk']) })],
        [
          2,
          fc.record({
            type: fc.constant('setProperty'),
            key: fc.constant('plan'),
            value: fc.constantFrom('pro', 'gold', null),
          }),
        ],
        [
          1,
          fc
            .anything()
            .filter((a) => !(typeof a === 'object' && a !== null && (a as { type?: unknown }).type === 'delete')),
        ],
      );
    if (path.endsWith('/segments/:segmentId/leads'))
      overrides['limit'] = weighted<unknown>(
        [4, fc.integer({ min: 1, max: 100 }).map(String)],
        [1, fc.string({ maxLength: 5 })],
      );
    if (path.endsWith('/segments/:segmentId/leads'))
      overrides['sort'] = weighted<unknown>(
        [4, fc.constantFrom('name', 'createdAt', 'properties.plan')],
        [1, fc.string({ maxLength: 20 })],
      );
    else
      overrides['sort'] = weighted<unknown>(
        [
          4,
          fc.record({
            field: fc.constantFrom('name', 'createdAt', 'properties.plan'),
            order: fc.constantFrom('asc', 'desc'),
          }),
        ],
        [1, fc.anything()],
      );
  }
  if (path === '/v1/agents/login') {
    // Mostly the owner's own address and password, so that a fair share of sign-ins succeed.
    overrides['email'] = weighted<unknown>(
      [4, fc.constant('§owner-email')],
      [2, fc.constantFrom('§spare-email', '§agentB-email')],
      [1, fc.emailAddress()],
    );
    overrides['password'] = weighted<unknown>(
      [4, fc.constant('§owner-password')],
      [1, fc.constant('§spare-password')],
      [1, fc.string({ minLength: 1, maxLength: 30 })],
    );
  }
  if (path === '/v1/agents/me/password') {
    overrides['currentPassword'] = weighted<unknown>(
      [1, fc.constant('§owner-password')],
      [1, fc.string({ minLength: 1, maxLength: 30 })],
    );
  }
  return { overrides };
}

/** Path segments no id looks like: operators, prototype names, overlong, broken encodings. */
const HOSTILE_SEGMENTS = [
  '000000000000000000000000',
  'no-such-id',
  '%24gt',
  '%7B%22%24gt%22%3A%22%22%7D',
  'x'.repeat(300),
  '%E0%A4%A',
  '%00',
  '__proto__',
  'constructor',
  '%2F',
  '%20',
  '%C2%A7conv%3A1',
];

const PATH_PARAMS: Record<string, fc.Arbitrary<string>> = {
  projectId: weighted(
    [14, fc.constant('§projectA')],
    [1, fc.constant('§projectB')],
    [1, fc.constantFrom(...HOSTILE_SEGMENTS)],
  ),
  leadId: weighted([10, symbolOf('lead')], [1, fc.constantFrom(...HOSTILE_SEGMENTS)]),
  conversationId: weighted([10, symbolOf('conv')], [1, fc.constantFrom(...HOSTILE_SEGMENTS)]),
  agentId: weighted([8, fc.constant('§spare')], [1, fc.constant('§agentB')], [1, fc.constantFrom(...HOSTILE_SEGMENTS)]),
  cannedResponseId: weighted([10, symbolOf('canned')], [1, fc.constantFrom(...HOSTILE_SEGMENTS)]),
  teamId: weighted([10, symbolOf('team')], [1, fc.constantFrom(...HOSTILE_SEGMENTS)]),
  webhookId: weighted([10, symbolOf('webhook')], [1, fc.constantFrom(...HOSTILE_SEGMENTS)]),
  noteId: weighted([10, symbolOf('note')], [1, fc.constantFrom(...HOSTILE_SEGMENTS)]),
  propertyId: weighted([10, symbolOf('property')], [1, fc.constantFrom(...HOSTILE_SEGMENTS)]),
  segmentId: weighted([10, symbolOf('segment')], [1, fc.constantFrom(...HOSTILE_SEGMENTS)]),
};

function callersFor(route: RestRoute): fc.Arbitrary<Caller> {
  switch (route.access) {
    case 'admin':
      return weighted<Caller>([9, fc.constant('admin')], [1, fc.constantFrom<Caller>('owner', 'none')]);
    case 'agent':
    case 'owner':
      return weighted<Caller>(
        [16, fc.constant('owner')],
        [1, fc.constantFrom<Caller>('v1', 'agent', 'agentB', 'none')],
      );
    case 'owner-or-admin':
      return weighted<Caller>(
        [12, fc.constant('owner')],
        [4, fc.constant('admin')],
        [1, fc.constantFrom<Caller>('v1', 'agent', 'agentB', 'none')],
      );
    case 'token':
      return fc.constantFrom<Caller>('v1', 'v1', 'v1', 'owner', 'owner', 'agent', 'agentB', 'admin', 'none');
    default:
      return weighted<Caller>([8, fc.constant('none')], [1, fc.constant('v1')]);
  }
}

function socketCaseArbitrary(entry: SocketEntry): fc.Arbitrary<SocketCase> {
  const valid = inputArbitrary(entry.input, socketOverrides(entry));
  return weighted<SocketCase>(
    [4, valid.map((payload) => ({ payload }))],
    [4, fc.tuple(valid, mutations).map(([payload, list]) => ({ payload: mutate(payload, list) }))],
    [1, hostilePayload.map((payload) => ({ payload }))],
    [1, fc.constant({})],
  );
}

function restCaseArbitrary(entry: RestEntry): fc.Arbitrary<RestCase> {
  const { route } = entry;
  const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1] as string);
  const params: Record<string, fc.Arbitrary<string>> = {};
  for (const name of names) {
    const pool = PATH_PARAMS[name];
    // A route with a new kind of path parameter needs ids to fuzz it with.
    if (!pool) throw new Error(`fuzz: no ids for the path parameter :${name} of ${entry.name}`);
    params[name] = pool;
  }
  // A note is reached through its own lead: the lead's id is mostly the one the drawn note is on.
  const drawn = names.includes('noteId')
    ? fc
        .record(params)
        .chain((p) =>
          weighted<Record<string, string>>(
            [6, fc.constant({ ...p, leadId: (p['noteId'] ?? '').replace(/^§note:/, '§noteLead:') })],
            [1, fc.constant(p)],
          ),
        )
    : fc.record(params);
  const head = fc.record({ caller: callersFor(route), params: drawn });
  const options = restOverrides(entry);
  if (route.body) {
    const valid = inputArbitrary(route.body, options);
    const body = weighted<Partial<RestCase>>(
      [4, valid.map((b) => ({ body: b }))],
      [4, fc.tuple(valid, mutations).map(([b, list]) => ({ body: mutate(b, list) }))],
      [1, hostilePayload.map((b) => ({ body: b }))],
      [1, hostileRawBody.map((rawBody) => ({ rawBody }))],
    );
    return fc.tuple(head, body).map(([h, b]) => ({ ...h, ...b }));
  }
  if (route.query) {
    const valid = inputArbitrary(route.query, options) as fc.Arbitrary<Record<string, unknown>>;
    const extra = fc.array(hostileQueryPair, { minLength: 1, maxLength: 3 });
    const query = weighted<RestCase['query']>(
      [4, valid.map((v) => ({ valid: v, pairs: [] }))],
      [3, fc.tuple(valid, extra).map(([v, pairs]) => ({ valid: v, pairs }))],
      [2, extra.map((pairs) => ({ pairs }))],
    );
    // The import's body is the CSV itself, beside its query.
    if (route.path.endsWith('/leads/imports'))
      return fc.tuple(head, query, importBodies).map(([h, q, rawBody]) => ({ ...h, query: q, rawBody }));
    return fc.tuple(head, query).map(([h, q]) => ({ ...h, query: q }));
  }
  throw new Error(`fuzz: ${entry.name} has neither a body nor a query`);
}

export function caseArbitrary(entry: Entry): fc.Arbitrary<FuzzCase> {
  return entry.kind === 'socket' ? socketCaseArbitrary(entry) : restCaseArbitrary(entry);
}

// ---- judging answers ----

/** What no answer may hold: stack frames, file paths, driver and runtime error text. */
const INTERNALS: [RegExp, string][] = [
  [/\bat (?:async )?[\w$.<>[\]]+ \(/, 'a stack frame'],
  [/\bat \/[\w/.-]+:\d+:\d+/, 'a stack frame'],
  [/node:internal|node_modules|\/dist\/[\w/.-]+\.js|\.ts:\d+/, 'a source path'],
  [/Mongo(?:Server|Network|Bulk)?Error|E11000|MongooseError|CastError|ValidatorError|BSONError/, 'a driver error'],
  [/\b(?:TypeError|ReferenceError|RangeError|SyntaxError)\b/, 'a runtime error'],
  [/Cannot read propert|is not a function|Maximum call stack|Unexpected token/, 'a runtime error message'],
  [/"stack"\s*:/, 'a stack field'],
];

export function leakProblems(text: string, forbidden: readonly string[]): string[] {
  const problems: string[] = [];
  for (const [pattern, what] of INTERNALS) if (pattern.test(text)) problems.push(`the answer holds ${what}`);
  const lower = text.toLowerCase();
  for (const mark of forbidden) if (lower.includes(mark)) problems.push(`the answer holds another user's ${mark}`);
  return problems;
}

/** Codes that mean the server failed, never the client: a fuzz input must not cause them. */
const SERVER_FAULTS = new Set(['INTERNAL', 'UNAVAILABLE']);

export interface CaseOutcome {
  /** `ok` or the error code (`HTTP 413` style for answers without a protocol error). */
  outcome: string;
  problems: string[];
}

const clip = (text: string, max = 300) => (text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text);

async function runSocketCase(world: World, entry: SocketEntry, fuzzCase: SocketCase): Promise<CaseOutcome> {
  const socket: Socket = entry.namespace === '/visitor' ? world.v1Socket : world.agentSocket;
  const caller: Caller = entry.namespace === '/visitor' ? 'v1' : 'agent';
  const problems: string[] = [];
  if (!socket.connected) {
    const again = await reconnect(socket);
    if (again !== 'connected')
      return { outcome: 'down', problems: [`the ${entry.namespace} socket cannot reconnect: ${again}`] };
  }
  const payload = 'payload' in fuzzCase ? resolveSymbols(world, fuzzCase.payload) : undefined;
  const frameBytes = Buffer.byteLength(JSON.stringify([entry.command, payload]) ?? '');
  // A frame over the server's cap closes the connection (Socket.IO's own guard); under it, nothing may.
  const overCap = frameBytes > MAX_FRAME_BYTES - 64;
  let onClose: () => void = () => undefined;
  const closed = new Promise<'closed'>((resolve) => {
    onClose = () => resolve('closed');
    socket.once('disconnect', onClose);
  });
  const answer = await Promise.race([
    command(socket, entry.command, 'payload' in fuzzCase ? payload : undefined, 15_000).catch((error: Error) => error),
    closed,
  ]);
  socket.off('disconnect', onClose);
  if (answer === 'closed' || !socket.connected) {
    if (overCap) return { outcome: 'frame too large', problems };
    return { outcome: 'closed', problems: [`the server closed the socket (frame of ${frameBytes} bytes)`] };
  }
  if (answer instanceof Error) return { outcome: 'no ack', problems: [answer.message] };
  const ack = answer as AckResponse<unknown>;
  const parsed = entry.ack.safeParse(ack);
  if (!parsed.success) problems.push(`the ack does not match the contract: ${clip(parsed.error.message, 600)}`);
  if (!ack.ok && SERVER_FAULTS.has(ack.error.code)) problems.push(`answered ${ack.error.code}: ${ack.error.message}`);
  problems.push(...leakProblems(JSON.stringify(ack), forbiddenFor(world, caller)));
  if (problems.length > 0) problems.push(`ack: ${clip(JSON.stringify(ack), 600)}`);
  if (ack.ok) recordAnswer(world, entry.name, ack.data);
  return { outcome: ack.ok ? 'ok' : ack.error.code, problems };
}

async function runRestCase(world: World, entry: RestEntry, fuzzCase: RestCase): Promise<CaseOutcome> {
  const { route } = entry;
  const params = resolveSymbols(world, fuzzCase.params) as Record<string, string>;
  let path = route.path.replace(/:(\w+)/g, (_, name: string) => params[name] ?? '');
  if (fuzzCase.query) {
    const valid = fuzzCase.query.valid
      ? queryPairs(resolveSymbols(world, fuzzCase.query.valid) as Record<string, unknown>)
      : [];
    path += queryString([...valid, ...fuzzCase.query.pairs]);
  }
  const token = tokenOf(world, fuzzCase.caller);
  const body = fuzzCase.body === undefined ? undefined : resolveSymbols(world, fuzzCase.body);
  const problems: string[] = [];
  let res;
  try {
    res = await request(world.url, route.method.toUpperCase(), path, {
      ...(token ? { token } : {}),
      ...(fuzzCase.rawBody
        ? { rawBody: fuzzCase.rawBody.body, headers: { 'content-type': fuzzCase.rawBody.contentType } }
        : body !== undefined
          ? { body }
          : route.method === 'get'
            ? {}
            : { rawBody: '' }),
    });
  } catch (error) {
    return {
      outcome: 'failed',
      problems: [`${route.method.toUpperCase()} ${clip(path)}: ${(error as Error).message}`],
    };
  }
  const code = (res.body as { error?: { code?: unknown } } | undefined)?.error?.code;
  if (res.status >= 500) problems.push(`answered ${res.status}`);
  if (res.status >= 400 && !ERROR_CODES.includes(code as never)) problems.push(`an error without a protocol code`);
  problems.push(...leakProblems(res.text, forbiddenFor(world, fuzzCase.caller)));
  if (problems.length > 0)
    problems.push(`${route.method.toUpperCase()} ${clip(path)} → ${res.status} ${clip(res.text, 600)}`);
  if (res.status < 300) {
    recordAnswer(world, entry.name, res.body);
    const sent = body as Record<string, unknown> | undefined;
    if (route.path === '/v1/agents/me/password' && fuzzCase.caller === 'owner')
      rememberPassword(world, world.owner.id, sent?.['newPassword']);
    if (route.path.endsWith('/agents/:agentId/password'))
      rememberPassword(world, params['agentId'] ?? '', sent?.['password']);
  }
  return { outcome: res.status < 300 ? 'ok' : typeof code === 'string' ? code : `HTTP ${res.status}`, problems };
}

export function runCase(world: World, entry: Entry, fuzzCase: FuzzCase): Promise<CaseOutcome> {
  return entry.kind === 'socket'
    ? runSocketCase(world, entry, fuzzCase as SocketCase)
    : runRestCase(world, entry, fuzzCase as RestCase);
}
