import type { Request } from 'express';

/** A POST without a body (or without a JSON content type) is an empty object, not `undefined`. */
export function bodyOf(req: Request): unknown {
  return req.body === undefined ? {} : req.body;
}

/** Route params always exist on the routes that use them; this narrows Express's loose typing. */
export function param(req: Request, name: string): string {
  const value = req.params[name];
  return typeof value === 'string' ? value : '';
}
