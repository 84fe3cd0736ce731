import type { ErrorBody, ErrorCode, ErrorDetails } from '@parley/protocol';

/** The one error type of the SDK, carrying the protocol's error `code`. */
export class ParleyError extends Error {
  override readonly name = 'ParleyError';
  /**
   * Worth trying again later: the server or the network, not the request, was the problem
   * (`UNAVAILABLE`, `INTERNAL`, `RATE_LIMITED`). False for an error that arose in the client itself.
   */
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetails,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? (code === 'UNAVAILABLE' || code === 'INTERNAL' || code === 'RATE_LIMITED');
  }

  static from(body: ErrorBody): ParleyError {
    return new ParleyError(body.code, body.message, body.details);
  }
}

/**
 * Any error as a ParleyError. Network failures are turned into `UNAVAILABLE` where they happen
 * (fetch, acks); anything else that is not a ParleyError is a bug (in the SDK or in a callback of
 * the page), so it becomes a non-retryable `INTERNAL` carrying the original as `cause`, rather than
 * something the SDK would retry forever.
 */
export function toParleyError(error: unknown): ParleyError {
  if (error instanceof ParleyError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ParleyError('INTERNAL', `Unexpected error in the Parley client: ${message}`, undefined, {
    cause: error,
    retryable: false,
  });
}

/** What pending work fails with once the client is closed. */
export function closedError(): ParleyError {
  return new ParleyError('UNAVAILABLE', 'The client is closed', undefined, { retryable: false });
}
