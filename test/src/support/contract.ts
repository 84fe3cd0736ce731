import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * The contract check of the integration suite: every response the test HTTP client (http.ts)
 * receives is checked against the published OpenAPI document, so that the document cannot drift
 * from the code. A status the document does not list for that operation, or a body its schema
 * refuses, fails the test that made the request. Validated with ajv on JSON Schema 2020-12, the
 * dialect of OpenAPI 3.1 schemas.
 *
 * In scope: the documented paths and everything under `/v1` (a `/v1` path the document does not
 * know must be the protocol's `NOT_FOUND`). Out of scope: CORS preflights (`OPTIONS`, answered for
 * any `/v1` path by the CORS layer) and the static files outside `/v1`.
 */

interface Exchange {
  method: string;
  /** The request path, query string included. */
  url: string;
  status: number;
  contentType: string;
  /** The parsed JSON body, or the text. */
  body: unknown;
  text: string;
}

type Json = Record<string, unknown>;

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  /** Literal segments first: `/leads/export.csv` is tried before `/leads/{leadId}`. */
  params: number;
  responses: Json;
}

export interface ContractCheck {
  /** The failures of one exchange (empty when the document describes it) and the operation it hit. */
  check(exchange: Exchange): { problems: string[]; operation?: string };
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A contract check against an OpenAPI 3.1 document (the published one by default). */
export function contractCheck(document: Json = loadPublishedDocument()): ContractCheck {
  // strict: false, since the document holds OpenAPI's own keys beside the schemas it is read for.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(document, 'openapi');
  const validators = new Map<string, ValidateFunction>();
  const validatorAt = (pointer: string): ValidateFunction => {
    let validate = validators.get(pointer);
    if (!validate) {
      validate = ajv.getSchema(`openapi#${pointer}`);
      if (!validate) throw new Error(`no schema at ${pointer} of the OpenAPI document`);
      validators.set(pointer, validate);
    }
    return validate;
  };
  const resolve = (value: unknown): { value: Json; pointer?: string } => {
    const ref = (value as { $ref?: unknown }).$ref;
    if (typeof ref !== 'string') return { value: value as Json };
    const pointer = ref.replace(/^#/, '');
    const target = pointer
      .split('/')
      .slice(1)
      .reduce<unknown>((node, part) => (node as Json)[part.replace(/~1/g, '/').replace(/~0/g, '~')], document);
    return { value: target as Json, pointer };
  };

  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(document['paths'] as Record<string, Json>)) {
    const pattern = new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`);
    for (const [method, operation] of Object.entries(item)) {
      const responses = (operation as Json)['responses'] as Json;
      operations.push({ method, template, pattern, params: (template.match(/\{/g) ?? []).length, responses });
    }
  }
  operations.sort((a, b) => a.params - b.params);

  const schemaProblems = (pointer: string, body: unknown): string[] => {
    const validate = validatorAt(pointer);
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `body${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  };

  const problems = (exchange: Exchange, operation: Operation | undefined): string[] => {
    const pathname = exchange.url.split('?')[0] ?? '';
    if (!operation) {
      if (!pathname.startsWith('/v1/')) return [];
      // A path that does not percent-decode matches no operation: the protocol answers it
      // BAD_REQUEST, whatever it names (docs/PROTOCOL.md, "A request that cannot be read").
      if (!decodes(pathname)) {
        if (exchange.status !== 400)
          return [`${exchange.method} ${pathname} does not decode, yet answered ${exchange.status}`];
        return schemaProblems('/components/schemas/ErrorBAD_REQUEST', exchange.body).map((p) => `400 ${p}`);
      }
      // An endpoint the document does not have: the API's own "no such endpoint".
      if (exchange.status !== 404)
        return [`${exchange.method} ${pathname} is not in the document, yet answered ${exchange.status}`];
      return schemaProblems('/components/schemas/ErrorNOT_FOUND', exchange.body).map((p) => `404 ${p}`);
    }
    const where = `${operation.method.toUpperCase()} ${operation.template} → ${exchange.status}`;
    const listed = operation.responses[String(exchange.status)];
    if (listed === undefined) {
      return [
        `${where}: the document lists no ${exchange.status} for this operation (body: ${exchange.text.slice(0, 200)})`,
      ];
    }
    const { value: response, pointer: responsePointer } = resolve(listed);
    const content = response['content'] as Record<string, Json> | undefined;
    if (!content) {
      return exchange.text === ''
        ? []
        : [`${where}: documented without a body, answered ${exchange.text.slice(0, 200)}`];
    }
    const [mediaType, media] = Object.entries(content)[0] as [string, Json];
    if (!exchange.contentType.startsWith(mediaType)) {
      return [`${where}: documented as ${mediaType}, answered ${exchange.contentType || 'no content type'}`];
    }
    if (!media['schema']) return [];
    const base =
      responsePointer ?? `/paths/${escapePointer(operation.template)}/${operation.method}/responses/${exchange.status}`;
    return schemaProblems(`${base}/content/${escapePointer(mediaType)}/schema`, exchange.body).map(
      (p) => `${where}: ${p}`,
    );
  };

  return {
    check(exchange) {
      const method = exchange.method.toLowerCase();
      if (method === 'options') return { problems: [] };
      const pathname = exchange.url.split('?')[0] ?? '';
      const operation = operations.find((op) => op.method === method && op.pattern.test(pathname));
      return {
        problems: problems(exchange, operation),
        ...(operation ? { operation: `${method.toUpperCase()} ${operation.template}` } : {}),
      };
    },
  };
}

export function loadPublishedDocument(): Json {
  return JSON.parse(readFileSync(require.resolve('@parley/protocol/openapi.json'), 'utf8')) as Json;
}

let published: ContractCheck | undefined;

/**
 * Throws when the published document does not describe the exchange. With `CONTRACT_COVERAGE` set
 * to a file, appends `METHOD template status` for each exchange checked, so that a run can list
 * which responses of which endpoints the suite exercised.
 */
export function assertDescribed(exchange: Exchange): void {
  published ??= contractCheck();
  const { problems, operation } = published.check(exchange);
  if (problems.length > 0) {
    throw new Error(
      `the response does not match the published OpenAPI document (protocol/src/contract/rest-routes.ts):\n  ${problems.join('\n  ')}`,
    );
  }
  const coverage = process.env['CONTRACT_COVERAGE'];
  if (coverage && operation) appendFileSync(path.resolve(coverage), `${operation} ${exchange.status}\n`);
}

function decodes(pathname: string): boolean {
  try {
    decodeURIComponent(pathname);
    return true;
  } catch {
    return false;
  }
}
