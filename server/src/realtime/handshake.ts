import type { Socket } from 'socket.io';
import type { ErrorBody } from '@parley/protocol';
import { toAppError, type AppError } from '../errors';

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
 * This matters for connection state recovery: Socket.IO computes the packets a returning socket
 * missed before running middlewares, but only delivers broadcasts to it once they are done, so
 * anything broadcast while a middleware waits on I/O would be lost to it. Checks therefore answer
 * from caches when they can and touch the database only on a cold cache.
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
