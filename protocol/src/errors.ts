/** Error codes of the protocol and the HTTP status each one maps to. */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  /** Extension: the visitor's contact was blocked by the project's agents (a 403 over REST). */
  BLOCKED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_STATUS, value);
}

/** One invalid field of a `BAD_REQUEST`; `field` is a dotted path such as `attributes.plan`. */
export interface FieldIssue {
  field: string;
  message: string;
}

export interface ErrorDetails {
  /** With `BAD_REQUEST`: each bad field. */
  fields?: FieldIssue[];
  /** With `RATE_LIMITED`: how long to wait before trying again. */
  retryAfterMs?: number;
  [key: string]: unknown;
}

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: ErrorDetails;
}

/** The body of every REST error response. */
export interface ErrorResponse {
  error: ErrorBody;
}

/** What every Socket.IO command acknowledges with. */
export type AckResponse<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };

export type Ack<T> = (response: AckResponse<T>) => void;
