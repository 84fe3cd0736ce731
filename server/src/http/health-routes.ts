import type { Router } from 'express';
import type { HealthResponse } from '@parley/protocol';
import type { Database } from '../infra/database';
import type { RedisConnections } from '../infra/redis';
import { exactRouter } from './router';

export interface HealthDeps {
  database: Database;
  redis?: RedisConnections;
}

export function healthRoutes({ database, redis }: HealthDeps): Router {
  const router = exactRouter();

  /** Liveness: the process answers. Never checks dependencies, so an outage doesn't get us killed. */
  router.get('/healthz', (_req, res) => {
    const body: HealthResponse = { status: 'ok' };
    res.json(body);
  });

  /** Readiness: take traffic only while the database (and Redis, where configured) answer. */
  router.get('/readyz', async (_req, res) => {
    const checks: Record<string, 'ok' | 'down'> = {};
    const [db, cache] = await Promise.all([database.ping(), redis ? redis.ping() : Promise.resolve(undefined)]);
    checks['database'] = db ? 'ok' : 'down';
    if (cache !== undefined) checks['redis'] = cache ? 'ok' : 'down';
    const ready = Object.values(checks).every((c) => c === 'ok');
    const body: HealthResponse = {
      status: ready ? 'ok' : 'unavailable',
      checks,
    };
    res.status(ready ? 200 : 503).json(body);
  });

  return router;
}
