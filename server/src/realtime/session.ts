import type { Socket } from 'socket.io';
import type { SessionExpiringEvent } from '@parley/protocol';
import type { Clock } from '../infra/clock';
import { ExpiryTimer } from './expiry-timer';

/**
 * Closes a socket when its token expires: the token was checked once at the handshake, and a
 * socket must not outlive it. `session:renew` moves the deadline with a fresh token.
 */
export function closeOnExpiry(socket: Socket, expiresAt: Date, clock: Clock): ExpiryTimer {
  const timer = new ExpiryTimer(expiresAt, clock, (deadline) => {
    // The deadline that passed, which is the renewed one after a `session:renew`.
    const event: SessionExpiringEvent = { expiresAt: deadline.toISOString() };
    socket.emit('session.expiring', event);
    socket.disconnect(true);
  });
  socket.on('disconnect', () => timer.clear());
  return timer;
}
