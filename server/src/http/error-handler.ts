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

export function sendError(res: Parameters<RequestHandler>[1], error: AppError): void {
  if (error.code === 'RATE_LIMITED' && typeof error.details?.retryAfterMs === 'number') {
    res.setHeader('Retry-After', String(Math.max(1, Math.ceil(error.details.retryAfterMs / 1000))));
  }
  res.status(error.status).json({ error: error.toBody() });
}

/** The protocol's error shape for every failure; never a stack trace or a driver message. */
export function errorHandler(logger: Logger, metrics: Metrics): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    const known = bodyParserError(error);
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
