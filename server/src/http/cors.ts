import type { Request, RequestHandler } from 'express';

export type CorsPolicy = '*' | readonly string[];

/**
 * CORS for a bearer-token API: no cookies are involved, so reflecting an allowed origin is safe.
 * `policyFor` picks `*` or an allow-list per request: the visitor endpoints are called from
 * customers' websites and answer `*` here, checking the project's own allowed origins in their
 * handlers, because only the project knows which websites embed it.
 */
export function cors(policyFor: (req: Request) => CorsPolicy): RequestHandler {
  return (req, res, next) => {
    const origin = req.headers.origin;
    const policy = policyFor(req);
    if (origin && (policy === '*' || policy.includes(origin))) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PATCH, DELETE, OPTIONS');
      res.setHeader('Access-Control-Expose-Headers', 'Retry-After, Content-Disposition');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    res.vary('Origin');
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  };
}

/** Paths a visitor's browser calls from a customer's website. */
const VISITOR_PATHS = [/^\/v1\/projects\/[^/]+\/(widget|auth\/[^/]+)$/, /^\/v1\/auth\/refresh$/, /^\/v1\/me$/];

export function isVisitorPath(path: string): boolean {
  return VISITOR_PATHS.some((pattern) => pattern.test(path));
}
