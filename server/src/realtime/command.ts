import type { AckResponse, CommandAck, CommandName, CommandParsedInput, ParleyNamespace } from '@parley/protocol';
import { commandSchema } from '@parley/protocol/schemas';
import type { Socket } from 'socket.io';
import type { z } from 'zod';
import { toAppError } from '../errors';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';
import { parseInput } from '../validation';

export interface CommandDeps {
  logger: Logger;
  metrics: Metrics;
}

/**
 * Socket.IO passes whatever the client emitted. Accept `(payload, ack)`, `(ack)` alone and
 * `(payload)` without an ack; anything else is a bad payload, answered if there is an ack.
 */
function splitArgs(args: unknown[]): {
  payload: unknown;
  ack?: (response: unknown) => void;
} {
  const last = args[args.length - 1];
  if (typeof last === 'function') {
    const ack = last as (response: unknown) => void;
    return { payload: args.length > 1 ? args[0] : {}, ack };
  }
  return { payload: args[0] };
}

/**
 * Registers one command on a socket: validate with the protocol schema, call the handler, ack with
 * `{ ok, data }` or `{ ok: false, error }`. Nothing a client sends can throw out of here, so a bad
 * payload never takes down the socket or the process.
 *
 * The command's schema, its handler's input and its ack data all come from the protocol's command
 * map by the command's name, so a handler cannot be registered under another command's name,
 * schema or ack.
 *
 * The handler is called synchronously right after validation, before any await, so a handler that
 * queues work (message sends) fixes the order in which the socket's commands arrived.
 */
export function commandRegistrar<N extends ParleyNamespace>(
  socket: Socket,
  namespace: N,
  { logger, metrics }: CommandDeps,
) {
  return function command<C extends CommandName<N>>(
    name: C,
    handler: (input: CommandParsedInput<N, C>) => Promise<CommandAck<N, C>>,
  ): void {
    register(socket, namespace, name, commandSchema(namespace, name), handler, logger, metrics);
  };
}

function register<S extends z.ZodType, R>(
  socket: Socket,
  namespace: string,
  name: string,
  schema: S,
  handler: (input: z.output<S>) => Promise<R>,
  logger: Logger,
  metrics: Metrics,
): void {
  socket.on(name, (...args: unknown[]) => {
    const { payload, ack } = splitArgs(args);
    const stop = metrics.commands.startTimer({ namespace, command: name });
    let result: Promise<R>;
    try {
      result = handler(parseInput(schema, payload));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (data) => {
        stop({ outcome: 'ok' });
        const response: AckResponse<R> = { ok: true, data };
        ack?.(response);
      },
      (error: unknown) => {
        const { appError, internal } = toAppError(error);
        stop({ outcome: appError.code });
        metrics.errors.inc({ code: appError.code, transport: 'socket' });
        if (internal) logger.error({ err: error, namespace, command: name }, 'command failed');
        const response: AckResponse<never> = {
          ok: false,
          error: appError.toBody(),
        };
        ack?.(response);
      },
    );
  });
}
