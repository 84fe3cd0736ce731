import { ERROR_STATUS, type ErrorBody, type ErrorCode, type ErrorDetails } from '@parley/protocol';
import { isDatabaseUnavailable } from './infra/database-errors';

/**
 * The one error type of the server. Services throw it with a protocol code; REST and Socket.IO
 * turn it into the protocol's error shape. Anything else that escapes is an `INTERNAL` error whose
 * message never reaches the client.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetails,
  ) {
    super(message);
    this.name = 'AppError';
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const forbidden = (message = 'This token may not access this resource') => new AppError('FORBIDDEN', message);
export const unauthorized = (message = 'A valid token is required') => new AppError('UNAUTHORIZED', message);

/** Maps anything thrown to an AppError; `internal` is true when the cause must be logged. */
export function toAppError(error: unknown): {
  appError: AppError;
  internal: boolean;
} {
  if (error instanceof AppError) return { appError: error, internal: false };
  if (isDatabaseUnavailable(error)) {
    return {
      appError: new AppError('UNAVAILABLE', 'A dependency is unavailable, try again'),
      internal: true,
    };
  }
  return {
    appError: new AppError('INTERNAL', 'Internal error'),
    internal: true,
  };
}

/** MongoDB's duplicate-key error, raised by unique indexes (also by embedded-mongo). */
export function isDuplicateKeyError(
  error: unknown,
): error is Error & { code: number; keyPattern?: Record<string, unknown> } {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000;
}

/** Which unique index a duplicate-key error came from, by its key pattern's fields. */
export function duplicateKeyFields(error: unknown): string[] {
  if (!isDuplicateKeyError(error)) return [];
  return Object.keys(error.keyPattern ?? {});
}
