import type { Socket } from 'socket.io';
import type { SessionExpiringEvent } from '@parley/protocol';
import type { Clock } from '../infra/clock';
import { ExpiryTimer } from './expiry-timer';

/**
 * Closes a socket when its token expires: the token was checked once at the handshake, and a
 * socket must not outlive it. `session:renew` moves the deadline with a fresh token.
 *
 * `onDisconnect` runs in the same `disconnect` listener that cancels the timer: every listener of
 * an event past the second costs each idle socket a larger listener array, so the namespace's own
 * disconnect work shares this one.
 */
export function closeOnExpiry(socket: Socket, expiresAt: Date, clock: Clock, onDisconnect: () => void): ExpiryTimer {
  const timer = new ExpiryTimer(expiresAt, clock, (deadline) => {
    // The deadline that passed, which is the renewed one after a `session:renew`.
    const event: SessionExpiringEvent = { expiresAt: deadline.toISOString() };
    socket.emit('session.expiring', event);
    socket.disconnect(true);
  });
  // A token that had already expired has disconnected the socket at once, before any listener.
  if (socket.disconnected) {
    onDisconnect();
  } else {
    socket.on('disconnect', () => {
      timer.clear();
      onDisconnect();
    });
  }
  return timer;
}
