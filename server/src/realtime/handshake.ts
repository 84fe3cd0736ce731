import type { Socket } from 'socket.io';
import type { ErrorBody } from '@parley/protocol';
import { toAppError, unauthorized, type AppError } from '../errors';

/**
 * Socket.IO hands a middleware error to the client as `connect_error`, with `message` and `data`.
 * The protocol puts the error code in `message` and `{ code, message }` in `data`.
 */
export function handshakeError(error: AppError): Error & { data: ErrorBody } {
  const body = error.toBody();
  return Object.assign(new Error(body.code), { data: { code: body.code, message: body.message } });
}

/**
 * A handshake check that calls `next` synchronously whenever `check` completes synchronously.
 *
 * Socket.IO restores a returning socket's session before running middlewares, and delivers
 * broadcasts to it only once they are done. The adapters keep what is broadcast to a restoring
 * session meanwhile (see recovery-stash.ts in @parley/realtime-adapter), but only up to a point and only for as long as the
 * stash lives, so checks still answer from caches when they can and touch the database only on a
 * cold cache.
 */
export function handshake<S extends Socket>(check: (socket: S) => void | Promise<void>) {
  return (socket: S, next: (error?: Error) => void): void => {
    let pending: void | Promise<void>;
    try {
      pending = check(socket);
    } catch (error) {
      next(handshakeError(toAppError(error).appError));
      return;
    }
    if (!pending) {
      next();
      return;
    }
    pending.then(
      () => next(),
      (error: unknown) => next(handshakeError(toAppError(error).appError)),
    );
  };
}

/** The token a client sent in its handshake's `auth: { token }`; without one, it is refused. */
export function handshakeToken(socket: Socket): string {
  const token: unknown = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  if (typeof token !== 'string' || token.length === 0) throw unauthorized('Missing token');
  return token;
}
