import type express from 'express';

export interface RegisteredRoute {
  /** Lower case, as OpenAPI writes it: `get`, `post`… */
  method: string;
  /** As registered, `:name` for a parameter: `/v1/projects/:projectId/leads`. */
  path: string;
}

/** The parts of Express 5's router (the `router` package) that the walk below reads. */
interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  rawPath?: string;
  handle: { stack?: Layer[] };
}

/**
 * Every route registered on an Express app, with the paths of the routers it sits in, read from
 * the router stack. Only routes (`router.get(…)`…): middleware such as static folders is not an
 * endpoint. The contract test compares this list with the OpenAPI document.
 */
export function listRoutes(app: express.Express): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') routes.push({ method, path: prefix + layer.route.path });
        }
      } else if (layer.handle.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return routes;
}
