import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import type { TargetKind } from './worker-messages';

/** The reply shape every command of both servers acknowledges with. */
export type Ack<T> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

/**
 * One engine.io connection per socket (forceNew), WebSocket only, no reconnection: a dropped
 * socket in a benchmark is a failure to count, not something to hide by reconnecting.
 */
export function openSocket(url: string, namespace: string, auth: Record<string, string>): Socket {
  return io(`${url}${namespace}`, {
    auth,
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: 60_000,
  });
}

export function connected(socket: Socket, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    const timer = setTimeout(() => reject(new Error('connect timed out')), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export function command<T>(socket: Socket, name: string, payload: unknown, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    socket.timeout(timeoutMs).emit(name, payload, (error: Error | null, reply: Ack<T>) => {
      if (error) return reject(error);
      if (!reply.ok) return reject(new Error(`${name}: ${reply.error.code} ${reply.error.message}`));
      resolve(reply.data);
    });
  });
}

/**
 * A visitor token. Parley: a real anonymous sign-in over REST (JWT minted and signed). The baseline
 * has no auth, so its "token" is just an id it uses to name the visitor's room.
 */
export async function signIn(url: string, kind: TargetKind, projectId: string): Promise<string> {
  if (kind === 'baseline') return randomUUID();
  const res = await fetch(`${url}/v1/projects/${projectId}/auth/anonymous`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  if (res.status !== 201) throw new Error(`anonymous sign-in: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { token: string };
  return body.token;
}

/** Runs `task` for 0..count-1 with at most `concurrency` in flight; collects failures. */
export async function pool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
  onDone?: (done: number) => void,
): Promise<{ failed: number; firstError?: string }> {
  let next = 0;
  let done = 0;
  let failed = 0;
  let firstError: string | undefined;
  const lane = async () => {
    while (next < count) {
      const index = next++;
      try {
        await task(index);
      } catch (error) {
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
      onDone?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return firstError === undefined ? { failed } : { failed, firstError };
}
