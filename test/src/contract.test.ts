import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { Browser } from 'playwright-core';
import { launchChromium, pageProblems } from './support/browser';
import { contractCheck, loadPublishedDocument } from './support/contract';
import { anonymousVisitor, createAgent, createProject } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';

/**
 * The documents as the build wrote them, checked by validators of their specifications (no server:
 * the OpenAPI validator runs for seconds, longer than an idle keep-alive connection lives).
 */
describe('the published documents', () => {
  it('the OpenAPI one is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator)', () => {
    // The validator is an ES module, which jest's CommonJS runtime cannot load: it runs in a child.
    const validator = pathToFileURL(require.resolve('@seriousme/openapi-schema-validator'));
    const validate = (file: string) => {
      const script = `import { Validator } from ${JSON.stringify(validator.href)};
        const result = await new Validator().validate(${JSON.stringify(file)});
        process.stdout.write(JSON.stringify(result));`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(child.stderr);
      return JSON.parse(child.stdout) as { valid: boolean; errors?: unknown };
    };
    expect(validate(require.resolve('@parley/protocol/openapi.json'))).toEqual({ valid: true });
    // And the validator does refuse: the same document without its required `info`.
    const broken = path.join(os.tmpdir(), `parley-openapi-broken-${process.pid}.json`);
    writeFileSync(broken, JSON.stringify({ ...loadPublishedDocument(), info: undefined }));
    try {
      expect(validate(broken).valid).toBe(false);
    } finally {
      rmSync(broken, { force: true });
    }
  });

  it('the AsyncAPI one is valid AsyncAPI 3.0.0 (the schema of @asyncapi/specs)', () => {
    const specs = JSON.parse(readFileSync(require.resolve('@asyncapi/specs/schemas/3.0.0.json'), 'utf8')) as object;
    // The AsyncAPI schema bundles the draft-07 meta-schema itself; ajv's own copy would clash.
    const ajv = new Ajv({ strict: false, allErrors: true, meta: false, validateSchema: false });
    addFormats(ajv);
    const validate = ajv.compile(specs);
    const document = JSON.parse(readFileSync(require.resolve('@parley/protocol/asyncapi.json'), 'utf8')) as object;
    expect(validate(document) ? [] : validate.errors).toEqual([]);
    expect(validate({ ...document, operations: { bad: { action: 'publish' } } })).toBe(false);
  });
});

/**
 * The published contract: the documents the server serves, the reference page, and the check that
 * every integration test's responses go through (support/contract.ts), which must refuse what the
 * document does not describe.
 */
describe('the published contract', () => {
  let server: ParleyProcess;

  beforeAll(async () => {
    server = await startParley();
  });
  afterAll(async () => {
    await server?.stop();
    server?.cleanup();
  });

  it('serves the OpenAPI 3.1 document the build generated at /v1/openapi.json', async () => {
    const res = await client(server.url).get<Record<string, unknown>>('/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(loadPublishedDocument());
    expect(res.body['openapi']).toBe('3.1.0');
    const paths = res.body['paths'] as Record<string, unknown>;
    expect(Object.keys(paths)).toEqual(
      expect.arrayContaining(['/v1/agents/login', '/v1/projects/{projectId}/leads/{leadId}/merge']),
    );
  });

  it('serves the AsyncAPI 3 document of /visitor and /agent at /v1/asyncapi.json', async () => {
    const res = await client(server.url).get<Record<string, unknown>>('/v1/asyncapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(JSON.parse(readFileSync(require.resolve('@parley/protocol/asyncapi.json'), 'utf8')));
    expect(res.body['asyncapi']).toBe('3.0.0');
    const channels = res.body['channels'] as Record<string, { address: string; messages: Record<string, unknown> }>;
    expect(Object.values(channels).map((c) => c.address)).toEqual(['/visitor', '/agent']);
    const operations = res.body['operations'] as Record<string, { action: string; title: string }>;
    expect(operations['visitorConversationStart']).toMatchObject({ action: 'send', title: 'conversation:start' });
    expect(operations['agentLeadMergedPush']).toMatchObject({ action: 'receive', title: 'lead.merged' });
  });

  it('describes the operational endpoints as they answer', async () => {
    const http = client(server.url);
    expect((await http.get('/healthz')).status).toBe(200);
    expect((await http.get('/readyz')).status).toBe(200);
    expect((await http.get('/metrics')).status).toBe(200);
    expect((await http.get('/v1/no-such-endpoint')).status).toBe(404);
  });

  it('describes what an agent and a visitor meet on a round through the API', async () => {
    const http = client(server.url);
    const { project } = await createProject(server.url);
    const agent = await createAgent(server.url, project.id, 'owner');
    const visitor = await anonymousVisitor(server.url, project.id);
    const base = `/v1/projects/${project.id}`;
    expect((await http.get(`${base}/widget`)).status).toBe(200);
    expect((await http.get('/v1/me', { token: visitor.token })).status).toBe(200);
    expect((await http.get('/v1/me', { token: agent.token })).status).toBe(200);
    expect((await http.post('/v1/auth/refresh', { token: agent.token, body: {} })).status).toBe(200);
    const lead = await http.post<{ id: string }>(`${base}/leads`, {
      token: agent.token,
      body: { email: 'a@example.com' },
    });
    expect(lead.status).toBe(201);
    expect((await http.get(`${base}/leads`, { token: agent.token })).status).toBe(200);
    expect((await http.get(`${base}/leads/${lead.body.id}`, { token: agent.token })).status).toBe(200);
    expect((await http.get(`${base}/leads/export.csv`, { token: agent.token })).status).toBe(200);
    expect((await http.get(`${base}/conversations`, { token: agent.token })).status).toBe(200);
    expect((await http.get(`${base}/conversations/nope`, { token: agent.token })).status).toBe(404);
    expect((await http.get(`${base}/leads`, { token: visitor.token })).status).toBe(403);
    expect((await http.get(`${base}/leads`)).status).toBe(401);
    expect((await http.post('/v1/agents/login', { rawBody: '{' })).status).toBe(400);
    expect((await http.delete(`${base}/leads/${lead.body.id}`, { token: agent.token })).status).toBe(204);
  });

  describe('the response check', () => {
    const check = contractCheck();
    const me = { kind: 'admin' };
    const exchange = (status: number, body: unknown, url = '/v1/me', method = 'GET') => ({
      method,
      url,
      status,
      contentType: 'application/json; charset=utf-8',
      body,
      text: JSON.stringify(body),
    });

    it('accepts a response the document describes', () => {
      expect(check.check(exchange(200, me))).toEqual({ problems: [], operation: 'GET /v1/me' });
      expect(check.check(exchange(401, { error: { code: 'UNAUTHORIZED', message: 'no' } })).problems).toEqual([]);
    });

    it('refuses a status the operation does not list', () => {
      expect(check.check(exchange(409, { error: { code: 'CONFLICT', message: 'no' } })).problems).toEqual([
        expect.stringContaining('lists no 409'),
      ]);
    });

    it('refuses a body with an undocumented field, a missing field or the wrong error code', () => {
      expect(check.check(exchange(200, { ...me, secret: 'leak' })).problems).not.toEqual([]);
      expect(check.check(exchange(200, { kind: 'agent', expiresAt: new Date().toISOString() })).problems).not.toEqual(
        [],
      );
      expect(check.check(exchange(401, { error: { code: 'FORBIDDEN', message: 'no' } })).problems).not.toEqual([]);
    });

    it('refuses a body where the document says there is none, and the wrong media type', () => {
      const erase = '/v1/projects/p1/leads/l1';
      expect(check.check(exchange(204, { ok: true }, erase, 'DELETE')).problems).not.toEqual([]);
      expect(
        check.check({ ...exchange(200, 'x', '/v1/projects/p1/leads/export.csv'), text: 'x' }).problems,
      ).not.toEqual([]);
    });

    it('refuses an answer other than NOT_FOUND from a /v1 path the document does not have', () => {
      expect(check.check(exchange(200, {}, '/v1/secret-endpoint')).problems).not.toEqual([]);
      expect(
        check.check(exchange(404, { error: { code: 'NOT_FOUND', message: 'No such endpoint' } }, '/v1/x')).problems,
      ).toEqual([]);
    });
  });

  describe('the reference page at /docs', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('is served with a strict Content-Security-Policy', async () => {
      const res = await client(server.url).get('/docs/');
      expect(res.status).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain('unsafe');
    });

    it('renders every operation from files of this server only, without a CSP violation', async () => {
      const page = await browser.newPage();
      const problems = pageProblems(page);
      const elsewhere: string[] = [];
      page.on('request', (request) => {
        if (!request.url().startsWith(server.url) && !request.url().startsWith('data:')) elsewhere.push(request.url());
      });
      await page.goto(`${server.url}/docs`);
      await page.getByText('Agent sign-in').first().waitFor({ timeout: 20_000 });
      const document = loadPublishedDocument();
      // The REST operations, and what Parley sends to webhooks (the document's `webhooks`).
      const operations = [document['paths'], document['webhooks']]
        .flatMap((section) => Object.values(section as Record<string, Record<string, unknown>>))
        .reduce((n, item) => n + Object.keys(item).length, 0);
      expect(await page.locator('.opblock').count()).toBe(operations);
      expect(elsewhere).toEqual([]);
      expect(problems).toEqual([]);
      await page.close();
    });
  });
});
