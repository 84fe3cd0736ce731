import type { ErrorBody, ErrorCode, ErrorDetails } from '@parley/protocol';

/** The one error type of the SDK, carrying the protocol's error `code`. */
export class ParleyError extends Error {
  override readonly name = 'ParleyError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetails,
  ) {
    super(message);
  }

  static from(body: ErrorBody): ParleyError {
    return new ParleyError(body.code, body.message, body.details);
  }

  /** Worth trying again later: the server or the network, not the request, was the problem. */
  get retryable(): boolean {
    return this.code === 'UNAVAILABLE' || this.code === 'INTERNAL' || this.code === 'RATE_LIMITED';
  }
}

export function toParleyError(error: unknown): ParleyError {
  if (error instanceof ParleyError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ParleyError('UNAVAILABLE', message);
}
