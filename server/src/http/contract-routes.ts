import { readFileSync } from 'node:fs';
import path from 'node:path';
import express, { Router, type RequestHandler } from 'express';
import { exactRouter } from './router';

/** The documents the protocol's build wrote (`npm run build`); read once, at start. */
function readDocument(specifier: '@parley/protocol/openapi.json' | '@parley/protocol/asyncapi.json'): string {
  try {
    return readFileSync(require.resolve(specifier), 'utf8');
  } catch (error) {
    throw new Error(`${specifier} is missing: run \`npm run build\` (it generates the contract documents)`, {
      cause: error,
    });
  }
}

/** `/v1/openapi.json` and `/v1/asyncapi.json`: the published contract, mounted under /v1. */
export function contractRoutes(): Router {
  const router = exactRouter();
  const documents = {
    '/openapi.json': readDocument('@parley/protocol/openapi.json'),
    '/asyncapi.json': readDocument('@parley/protocol/asyncapi.json'),
  };
  for (const [route, body] of Object.entries(documents)) {
    router.get(route, (_req, res) => {
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.type('application/json').send(body);
    });
  }
  return router;
}

/**
 * The reference page may run only what the server itself sends: no inline script or style, no
 * other origin, not framed. Swagger UI works under it (it sets styles through the DOM, which
 * `style-src` does not govern), and the browser test holds it to that.
 */
export const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const docsHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', DOCS_CONTENT_SECURITY_POLICY);
  next();
};

/**
 * `/docs`: the API reference, rendered by Swagger UI from `/v1/openapi.json`. The renderer comes
 * from the `swagger-ui-dist` package in node_modules, served by this server: the page works
 * offline and loads nothing from a CDN. Mounted at the root.
 */
export function docsRoutes(pageDir: string): Router {
  const router = Router();
  const swaggerUiDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  router.use('/docs', docsHeaders);
  router.use('/docs/swagger-ui', express.static(swaggerUiDir, { index: false, maxAge: '1d' }));
  router.use('/docs', express.static(pageDir, { index: 'index.html', maxAge: '5m' }));
  return router;
}
