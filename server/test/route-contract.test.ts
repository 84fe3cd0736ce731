import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REST_ROUTES } from '@parley/protocol/contract';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/infra/logger';
import { startServer, type RunningServer } from '../src/main';

/**
 * Every route the server registers is described in the published contract, and the contract
 * describes no route that does not exist: a new endpoint without a row in
 * `protocol/src/contract/rest-routes.ts` fails here. The server is the real one, started
 * in-process on its embedded database; the routes are read from its Express router stack.
 */
describe('the REST route table', () => {
  let dataDir: string;
  let server: RunningServer;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-routes-'));
    const config = loadConfig({ NODE_ENV: 'test', PORT: '0', DATA_DIR: dataDir, SEED_DEMO: 'false' });
    server = await startServer(config, createLogger('silent'));
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const key = (r: { method: string; path: string }) => `${r.method.toUpperCase()} ${r.path}`;

  it('documents every registered route', () => {
    const documented = new Set(REST_ROUTES.map(key));
    const undocumented = server.routes.map(key).filter((route) => !documented.has(route));
    expect(undocumented).toEqual([]);
  });

  it('documents no route that is not registered', () => {
    const registered = new Set(server.routes.map(key));
    const missing = REST_ROUTES.map(key).filter((route) => !registered.has(route));
    expect(missing).toEqual([]);
  });

  it('reads the routes of every router, under the path each is mounted at', () => {
    const routes = server.routes.map(key);
    expect(routes).toEqual(
      expect.arrayContaining(['GET /healthz', 'GET /v1/openapi.json', 'DELETE /v1/projects/:projectId/leads/:leadId']),
    );
  });
});
