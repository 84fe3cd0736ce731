import type { Socket } from 'socket.io';
import { isRecoveringAdapter } from './recovery-stash';
import { writeToTransport } from './socket-io-internals';

/**
 * - `fresh`: a new session (none asked for, or none could be restored);
 * - `recovered`: the session's rooms are back and its missed packets have been replayed;
 * - `refused`: a session was restored but is not this socket's to have (another principal's, or
 *   too much to replay): its rooms were left and nothing replayed, so the client must reload.
 */
export type Resumption = 'fresh' | 'recovered' | 'refused';

/**
 * Finishes a connection state recovery, from a namespace's `connection` handler: that is, after
 * its middlewares accepted the token. A pid and an offset are all it takes to ask for a session,
 * so the restored session must belong to the principal of the token presented now (`owns` compares
 * the previous socket's data with the new one's); otherwise it is dropped.
 *
 * Call it first thing in the handler, synchronously: the replay then reaches the client before
 * any live push.
 */
export function resumeSession(socket: Socket, owns: (restoredData: unknown) => boolean): Resumption {
  if (!socket.recovered) return 'fresh';
  const adapter: unknown = socket.nsp.adapter;
  const state = isRecoveringAdapter(adapter) ? adapter.takeRecovered(socket.id) : undefined;
  if (!state || !state.complete || !owns(state.data)) {
    for (const room of [...socket.rooms]) if (room !== socket.id) void socket.leave(room);
    return 'refused';
  }
  // Each is `[event, ...args, offset]`, so the client records the offset.
  for (const data of state.packets) writeToTransport(socket, data);
  return 'recovered';
}
