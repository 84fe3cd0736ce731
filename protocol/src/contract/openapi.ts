/**
 * The OpenAPI 3.1 document of the REST API, generated from `REST_ROUTES` and the zod schemas of
 * `@parley/protocol/schemas` by zod-openapi. Written to `dist/contract/openapi.json` at build time
 * (see write-documents.ts) and served by the server at `/v1/openapi.json`.
 */
import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiResponseObject } from 'zod-openapi';
import { ERROR_STATUS, type ErrorCode } from '../errors';
import { errorBodySchema, idSchema, WEBHOOK_PAYLOAD_SCHEMAS } from '../schemas';
import { PROTOCOL_VERSION } from '../version';
import { SCHEMA_OPTIONS } from './schema-options';
import { errorCodesOf, REST_ROUTES, type Access, type RestRoute } from './rest-routes';

export type OpenApiDocument = ReturnType<typeof createDocument>;

/** `/v1/projects/:projectId` as OpenAPI writes it: `/v1/projects/{projectId}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function pathParams(route: RestRoute): z.ZodObject | undefined {
  const names = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1] as string);
  if (names.length === 0) return undefined;
  return z.object(Object.fromEntries(names.map((name) => [name, idSchema])));
}

const SECURITY: Record<Access, Record<string, string[]>[] | undefined> = {
  none: undefined,
  'visitor-site': undefined,
  token: [{ visitorToken: [] }, { agentToken: [] }, { adminToken: [] }],
  agent: [{ agentToken: [] }],
  owner: [{ agentToken: [] }],
  admin: [{ adminToken: [] }],
  'owner-or-admin': [{ agentToken: [] }, { adminToken: [] }],
  metrics: [{}, { metricsToken: [] }],
};

/**
 * One error response per code, its body naming exactly that code; registered once as a component
 * (zod-openapi recognises the same object on every operation).
 */
const errorResponses = new Map<string, ZodOpenApiResponseObject>();
/**
 * Codes that share a status on one route (`FORBIDDEN` and `BLOCKED` are both 403) make one
 * response whose body names either.
 */
function errorResponse(codes: ErrorCode[]): ZodOpenApiResponseObject {
  const [first] = codes;
  if (!first) throw new Error('an error response needs a code');
  const key = codes.join('Or');
  const known = errorResponses.get(key);
  if (known) return known;
  const code = codes.length === 1 ? z.literal(first) : z.enum(codes as [ErrorCode, ...ErrorCode[]]);
  const schema = z.strictObject({ error: errorBodySchema.extend({ code }) }).meta({ id: `Error${key}` });
  const response: ZodOpenApiResponseObject = {
    id: key,
    description: `${codes.map((c) => `\`${c}\``).join(' or ')}: the protocol's error body.`,
    ...(first === 'RATE_LIMITED' || first === 'UNAVAILABLE'
      ? { headers: z.object({ 'Retry-After': z.string().meta({ description: 'Seconds to wait.' }) }) }
      : {}),
    content: { 'application/json': { schema } },
  };
  errorResponses.set(key, response);
  return response;
}

function operationOf(route: RestRoute): ZodOpenApiOperationObject {
  const responses: ZodOpenApiOperationObject['responses'] = {};
  for (const [status, response] of Object.entries(route.responses)) {
    const content = response.schema
      ? { 'application/json': { schema: response.schema } }
      : response.contentType
        ? { [response.contentType]: {} }
        : undefined;
    responses[status as `2${string}`] = { description: response.description, ...(content ? { content } : {}) };
  }
  const byStatus = new Map<string, ErrorCode[]>();
  for (const code of errorCodesOf(route)) {
    const status = String(ERROR_STATUS[code]);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of byStatus) responses[status as `4${string}`] ??= errorResponse(codes);
  const params = pathParams(route);
  const security = SECURITY[route.access];
  return {
    operationId: `${route.method}${openApiPath(route.path)
      .replace(/[{}]/g, '')
      .split(/[/._-]/)
      .filter(Boolean)
      .map((part) => part[0]!.toUpperCase() + part.slice(1))
      .join('')}`,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    ...(security ? { security } : {}),
    ...(params || route.query
      ? { requestParams: { ...(params ? { path: params } : {}), ...(route.query ? { query: route.query } : {}) } }
      : {}),
    ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: route.body } } } } : {}),
    responses,
  };
}

/**
 * What Parley sends to a webhook's URL, one entry per event type (OpenAPI 3.1 `webhooks`): a POST
 * of the event, signed with the Standard Webhooks headers.
 */
function webhookOperations(): Record<string, Record<string, ZodOpenApiOperationObject>> {
  const headers = z.object({
    'webhook-id': z.string().meta({ description: 'The event id: the same on every attempt, and for every webhook.' }),
    'webhook-timestamp': z.string().meta({ description: 'Unix seconds of this attempt.' }),
    'webhook-signature': z.string().meta({
      description:
        'Space-separated `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`, one per secret signing (two for 24 h after a rotation).',
    }),
  });
  const operations: Record<string, Record<string, ZodOpenApiOperationObject>> = {};
  for (const [type, schema] of Object.entries(WEBHOOK_PAYLOAD_SCHEMAS)) {
    operations[type] = {
      post: {
        operationId: `webhook${type
          .split('.')
          .map((part) => part[0]!.toUpperCase() + part.slice(1))
          .join('')}`,
        summary: `The \`${type}\` event`,
        tags: ['Webhooks'],
        requestParams: { header: headers },
        requestBody: { required: true, content: { 'application/json': { schema } } },
        responses: {
          '200': {
            description:
              'Any 2xx answer is success; anything else (redirects too) is retried, and 410 turns the webhook off.',
          },
        },
      },
    };
  }
  return operations;
}

export function buildOpenApiDocument(routes: readonly RestRoute[] = REST_ROUTES): OpenApiDocument {
  const paths: Record<string, Record<string, ZodOpenApiOperationObject>> = {};
  for (const route of routes) (paths[openApiPath(route.path)] ??= {})[route.method] = operationOf(route);
  return createDocument(
    {
      openapi: '3.1.0',
      info: {
        title: 'Parley REST API',
        version: String(PROTOCOL_VERSION),
        description:
          'JSON over HTTP under `/v1`, `Authorization: Bearer <token>`. Errors are ' +
          '`{ "error": { "code", "message", "details"? } }`. The realtime half of the protocol (Socket.IO ' +
          'namespaces `/visitor` and `/agent`) is described by the AsyncAPI document at `/v1/asyncapi.json`.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: '/', description: 'This server' }],
      tags: [
        { name: 'Visitors', description: 'Called from the widget on a customer website.' },
        { name: 'Agents', description: 'Agent sign-in.' },
        { name: 'Leads', description: 'Leads, shown as "contacts" to people.' },
        { name: 'Conversations', description: 'Conversations and their messages, for agents.' },
        { name: 'CannedResponses', description: 'Replies agents insert by a short code.' },
        { name: 'Teams', description: 'Groups of agents that conversations are routed and transferred to.' },
        { name: 'Routing', description: 'Presence, automatic assignment with capacity, the queue, business hours.' },
        {
          name: 'Webhooks',
          description:
            "Outbound webhooks (Standard Webhooks): signed, retried, ordered per lead. For the project's owners and the admin token.",
        },
        { name: 'Admin', description: 'Enabled by `ADMIN_TOKEN`.' },
        { name: 'Operations', description: 'Health and metrics.' },
        { name: 'Contract', description: 'The documents of this contract.' },
      ],
      components: {
        securitySchemes: {
          visitorToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A visitor token.' },
          agentToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An agent token.' },
          adminToken: { type: 'http', scheme: 'bearer', description: 'The `ADMIN_TOKEN`.' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'The `METRICS_TOKEN`.' },
        },
      },
      paths,
      webhooks: webhookOperations(),
    },
    SCHEMA_OPTIONS,
  );
}
