import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, toAppError } from '../errors';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';

/** body-parser marks its errors with a `type`; they are the client's fault, not ours. */
function bodyParserError(error: unknown): AppError | undefined {
  const type = (error as { type?: unknown } | null)?.type;
  if (typeof type !== 'string') return undefined;
  switch (type) {
    case 'entity.too.large':
      return new AppError('PAYLOAD_TOO_LARGE', 'Request body is too large');
    case 'entity.parse.failed':
      return new AppError('BAD_REQUEST', 'Request body is not valid JSON');
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new AppError('BAD_REQUEST', 'Unsupported body encoding');
    case 'request.aborted':
    case 'request.size.invalid':
      return new AppError('BAD_REQUEST', 'Request body was incomplete');
    default:
      return undefined;
  }
}

/**
 * Express's own layers mark what they refuse with a 4xx `status` (http-errors' convention): the
 * router for a path whose percent-encoding is broken, body-parser for a body that does not
 * decompress. They are the client's mistakes, answered 400 like any other bad input and not
 * logged as failures of ours.
 */
function clientError(error: unknown): AppError | undefined {
  if (!(error instanceof Error) || error instanceof AppError) return undefined;
  const status = (error as { status?: unknown }).status;
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  if (status === 413) return new AppError('PAYLOAD_TOO_LARGE', 'Request body is too large');
  if (error instanceof URIError) return new AppError('BAD_REQUEST', 'The path has a malformed percent-encoding');
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new AppError('BAD_REQUEST', 'Request body could not be decompressed');
  }
  return new AppError('BAD_REQUEST', 'Malformed request');
}

/**
 * Seconds a client is asked to wait after `UNAVAILABLE` when nothing tells how long (a database
 * that went away): enough not to hammer a recovering database, short enough to notice it is back.
 */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

/** `Retry-After` for what a client should try again (RATE_LIMITED, UNAVAILABLE), in whole seconds. */
function retryAfterSeconds(error: AppError): number | undefined {
  if (error.code !== 'RATE_LIMITED' && error.code !== 'UNAVAILABLE') return undefined;
  const ms = error.details?.retryAfterMs;
  if (typeof ms === 'number') return Math.max(1, Math.ceil(ms / 1000));
  return error.code === 'UNAVAILABLE' ? UNAVAILABLE_RETRY_AFTER_SECONDS : undefined;
}

export function sendError(res: Parameters<RequestHandler>[1], error: AppError): void {
  const retryAfter = retryAfterSeconds(error);
  if (retryAfter !== undefined) res.setHeader('Retry-After', String(retryAfter));
  res.status(error.status).json({ error: error.toBody() });
}

/** The protocol's error shape for every failure; never a stack trace or a driver message. */
export function errorHandler(logger: Logger, metrics: Metrics): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    const known = bodyParserError(error) ?? clientError(error);
    const { appError, internal } = known ? { appError: known, internal: false } : toAppError(error);
    if (internal) logger.error({ err: error, method: req.method, url: req.originalUrl }, 'request failed');
    metrics.errors.inc({ code: appError.code, transport: 'http' });
    if (res.headersSent) {
      // A streamed response (CSV export) failed half-way: all we can do is cut it short.
      next(error);
      return;
    }
    sendError(res, appError);
  };
}

export const notFoundHandler: RequestHandler = () => {
  throw new AppError('NOT_FOUND', 'No such endpoint');
};
