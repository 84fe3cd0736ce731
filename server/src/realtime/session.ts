import type { Socket } from 'socket.io';
import type { SessionExpiringEvent } from '@parley/protocol';
import { ExpiryTimer } from './expiry-timer';

/**
 * Closes a socket when its token expires: the token was checked once at the handshake, and a
 * socket must not outlive it. `session:renew` moves the deadline with a fresh token.
 */
export function closeOnExpiry(socket: Socket, expiresAt: Date): ExpiryTimer {
  const timer = new ExpiryTimer(expiresAt, () => {
    const event: SessionExpiringEvent = { expiresAt: expiresAt.toISOString() };
    socket.emit('session.expiring', event);
    socket.disconnect(true);
  });
  socket.on('disconnect', () => timer.clear());
  return timer;
}
