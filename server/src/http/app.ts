import path from 'node:path';
import express, { type Router } from 'express';
import type { Config } from '../config';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';
import { cors, isVisitorPath } from './cors';
import { errorHandler, notFoundHandler } from './error-handler';
import { precompressed } from './precompressed';
import { requestMetrics } from './request-metrics';
import { securityHeaders } from './security-headers';

/** JSON bodies are small in this API; the limit keeps a flood of large bodies cheap to refuse. */
export const JSON_BODY_LIMIT = '64kb';

export interface HttpAppDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** Mounted at the root: /healthz, /readyz. */
  health: Router;
  /** `/metrics`, mounted at the root when it shares the public port (no METRICS_PORT). */
  metricsRouter?: Router;
  /** Mounted under /v1. */
  api: Router[];
  /** Mounted at the root, before the static folders: the API reference page (`/docs`). */
  pages?: Router[];
  /**
   * Static folders served at the root (the landing page, demo pages, the SDK bundle); with
   * `precompressed`, the `.br`/`.gz` copies a build wrote beside a file are sent where accepted.
   */
  staticDirs?: { mount: string; dir: string; precompressed?: boolean }[];
}

export function createHttpApp({
  config,
  logger,
  metrics,
  health,
  metricsRouter,
  api,
  pages = [],
  staticDirs = [],
}: HttpAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  exactRouting(app);
  app.set('trust proxy', config.trustProxy);
  app.set('query parser', 'simple');
  app.use(requestMetrics(metrics));
  app.use(securityHeaders);
  app.use(health);
  if (metricsRouter) app.use(metricsRouter);
  app.use(
    '/v1',
    cors((req) => (isVisitorPath(req.originalUrl.split('?')[0] ?? '') ? '*' : config.corsOrigins)),
  );
  app.use('/v1', express.json({ limit: JSON_BODY_LIMIT, strict: true }));
  for (const router of api) app.use('/v1', router);
  app.use('/v1', notFoundHandler);
  for (const router of pages) app.use(router);
  for (const { mount, dir, precompressed: compressed } of staticDirs) {
    if (compressed) app.use(mount, precompressed(dir, '5m'));
    app.use(
      mount,
      express.static(path.resolve(dir), {
        index: 'index.html',
        fallthrough: true,
        maxAge: '5m',
      }),
    );
  }
  app.use(notFoundHandler);
  app.use(errorHandler(logger, metrics));
  return app;
}

/** Paths match exactly on the app's own router too (see router.ts). */
function exactRouting(app: express.Express): void {
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
}

/**
 * The app on METRICS_PORT: `/metrics` and nothing else, kept off the port the load balancer
 * publishes, so no spelling of a public URL reaches it.
 */
export function createMetricsApp(logger: Logger, metrics: Metrics, metricsRouter: Router): express.Express {
  const app = express();
  app.disable('x-powered-by');
  exactRouting(app);
  app.use(metricsRouter);
  app.use(notFoundHandler);
  app.use(errorHandler(logger, metrics));
  return app;
}
