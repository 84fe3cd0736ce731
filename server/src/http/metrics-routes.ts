import type { Router } from 'express';
import type { Metrics } from '../infra/metrics';
import { AppError } from '../errors';
import { bearerToken } from './http-auth';
import { exactRouter } from './router';

export interface MetricsRoutesDeps {
  metrics: Metrics;
  /** When set, scrapers must send `Authorization: Bearer <token>`. */
  metricsToken?: string;
}

/** `GET /metrics`, Prometheus text: on METRICS_PORT when set, else on the public port. */
export function metricsRoutes({ metrics, metricsToken }: MetricsRoutesDeps): Router {
  const router = exactRouter();
  router.get('/metrics', async (req, res) => {
    if (metricsToken && bearerToken(req) !== metricsToken) throw new AppError('UNAUTHORIZED', 'Metrics token required');
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  return router;
}
