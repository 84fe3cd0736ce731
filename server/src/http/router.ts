import { Router } from 'express';

/**
 * Every router matches paths exactly: `/metrics/`, `/METRICS` and `/Metrics` are not `/metrics`.
 * A proxy that blocks one spelling of a path must not be walked around by another.
 */
export function exactRouter(): Router {
  return Router({ caseSensitive: true, strict: true });
}
