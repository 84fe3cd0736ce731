import { mongo } from 'mongoose';

/**
 * Driver errors that say the database cannot be reached or cannot take a request right now,
 * whatever the request was; by name for those the driver does not export (the pool-cleared
 * errors) and for mongoose's own wrapper of a failed server selection.
 */
const UNAVAILABLE_NAMES = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'PoolClearedOnNetworkError',
  'MongoOperationTimeoutError',
]);

/**
 * Server error codes of the same kind (MongoDB's error_codes.yml): the server is unreachable from
 * where it stands, shutting down or stepping down, or out of disk space (embedded-mongo answers
 * `OutOfDiskSpace` when its journal cannot grow; the write was not applied).
 */
const UNAVAILABLE_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
  14031, // OutOfDiskSpace
]);

/**
 * Socket errors. The driver lets some through unwrapped (a connection reset while it waits for a
 * write to drain rejects with the socket's own `Error: write ECONNRESET`).
 */
const NETWORK_ERRNOS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTCONN',
]);

/**
 * Whether `error` means "the database is away (or full), try again later" rather than "this
 * request is wrong" or "this is a bug". Looks through the wrappers the driver puts around the
 * cause: a bulk write that failed for a network reason carries it as `errorResponse`, a
 * pool-cleared error as `cause`.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 5) return false;
  if (UNAVAILABLE_NAMES.has(error.name)) return true;
  if (error instanceof mongo.MongoNetworkError || error instanceof mongo.MongoServerSelectionError) return true;
  const { code, syscall } = error as { code?: unknown; syscall?: unknown };
  if (typeof code === 'number' && error instanceof mongo.MongoError && UNAVAILABLE_CODES.has(code)) return true;
  if (typeof code === 'string' && typeof syscall === 'string' && NETWORK_ERRNOS.has(code)) return true;
  const inner = (error as { errorResponse?: unknown }).errorResponse;
  if (inner instanceof Error && isDatabaseUnavailable(inner, depth + 1)) return true;
  return isDatabaseUnavailable(error.cause, depth + 1);
}
