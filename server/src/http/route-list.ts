import type { Router } from 'express';

export interface RouteInfo {
  method: string;
  /** The full path with its `:params`, e.g. `/v1/projects/:projectId/leads`. */
  path: string;
}

interface RouteLayer {
  route?: { path: unknown; methods?: Record<string, boolean> };
}

/**
 * Every route the routers declare, read off Express's own route table: the role-matrix test
 * walks it, so an endpoint added without a row in the matrix fails the test.
 */
export function routesOf(routers: Router[], prefix: string): RouteInfo[] {
  const routes: RouteInfo[] = [];
  for (const router of routers) {
    for (const layer of (router as unknown as { stack: RouteLayer[] }).stack) {
      const route = layer.route;
      if (!route || typeof route.path !== 'string') continue;
      for (const [method, on] of Object.entries(route.methods ?? {})) {
        if (on && method !== '_all') routes.push({ method: method.toUpperCase(), path: `${prefix}${route.path}` });
      }
    }
  }
  return routes;
}
