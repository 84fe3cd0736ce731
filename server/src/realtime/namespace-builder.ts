import type { Server } from 'socket.io';
import type { CommandAck, CommandName, CommandParsedInput, ParleyNamespace } from '@parley/protocol';
import { resumeSession, type Resumption } from '@parley/realtime-adapter';
import type { Clock } from '../infra/clock';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../infra/metrics';
import { commandRegistrar } from './command';
import type { ExpiryTimer } from './expiry-timer';
import { handshake } from './handshake';
import { restoredPrincipal } from './restored-principal';
import type { SendBufferGuard } from './send-buffer-guard';
import { closeOnExpiry } from './session';
import type { NamespaceOf, SocketOf } from './socket-types';

/** What every socket's data holds: the principal its token was verified as. */
export interface PrincipalData {
  principal: { projectId: string; expiresAt: Date };
}

/**
 * One handler per command of namespace `N`, each typed from the protocol's command map. Every
 * command of the map must be there: a namespace cannot forget one.
 */
export type CommandTable<N extends ParleyNamespace> = {
  [C in CommandName<N>]: (input: CommandParsedInput<N, C>) => Promise<CommandAck<N, C>>;
};

/** What a namespace's command handlers have of the socket they serve. */
export interface Connection<N extends ParleyNamespace, D extends PrincipalData, A> {
  socket: SocketOf<N, D>;
  /** Who acts, from the socket's principal as it is now (`session:renew` replaces it). */
  actor(): A;
  /** The key the socket's commands are rate-limited under, likewise from its current principal. */
  rateKey(): string;
  /** Closes the socket when its token expires; `session:renew` moves the deadline. */
  expiry: ExpiryTimer;
}

export interface NamespaceSpec<N extends ParleyNamespace, D extends PrincipalData, A> {
  name: N;
  /**
   * Checks a connecting socket's token and origin and fills in its data; a throw or a rejection
   * refuses the handshake with the error's code. Should complete synchronously when it can (see
   * `handshake`).
   */
  check(socket: SocketOf<N, D>): void | Promise<void>;
  /**
   * The principal field that names its holder (`userId`, `agentId`): a recovered session is
   * replayed only to the same holder in the same project.
   */
  holder: keyof D['principal'] & string;
  /** The rooms a socket joins on connection, decided from its token. */
  rooms(data: D): string[];
  actor(data: D): A;
  rateKey(principal: D['principal']): string;
  /** Runs once per socket, after it joined its rooms, before its commands are registered. */
  connected?(socket: SocketOf<N, D>, resumed: Resumption): void;
  commands(connection: Connection<N, D, A>): CommandTable<N>;
}

export interface NamespaceBuilderDeps {
  logger: Logger;
  metrics: Metrics;
  /** Lets a recovery replay pass the bound on what waits for a connection (see SendBufferGuard). */
  sendBuffer: SendBufferGuard;
  /** Judges when a socket's token expires. */
  clock: Clock;
}

/**
 * Sets up one Socket.IO namespace the way both of Parley's are: the handshake check, then on each
 * connection the recovered session's replay (first, before any live push), the connection metric,
 * the rooms, the token's expiry, and the command table, each command validated against the
 * protocol's schema and acked by `commandRegistrar`.
 */
export function buildNamespace<N extends ParleyNamespace, D extends PrincipalData, A>(
  io: Server,
  spec: NamespaceSpec<N, D, A>,
  { logger, metrics, sendBuffer, clock }: NamespaceBuilderDeps,
): NamespaceOf<N, D> {
  // One Server carries two namespaces with different event maps, so each is typed here.
  const namespace = io.of(spec.name) as unknown as NamespaceOf<N, D>;
  namespace.use(handshake<SocketOf<N, D>>((socket) => spec.check(socket)));

  // Made once per namespace: every socket's `disconnect` shares it.
  const disconnected = () => metrics.connections.dec({ namespace: spec.name });

  // What outlives this handler (listeners, the command table's closures) is made in the helpers
  // below: a closure made here would keep this whole scope alive for as long as the socket is open.
  namespace.on('connection', (socket: SocketOf<N, D>) => {
    const principal: D['principal'] = socket.data.principal;
    const resumed = sendBuffer.whileReplaying(socket.conn, () =>
      resumeSession(socket, (data) => {
        const restored = restoredPrincipal(data);
        return restored?.[spec.holder] === principal[spec.holder] && restored?.['projectId'] === principal.projectId;
      }),
    );
    metrics.connections.inc({ namespace: spec.name });
    void socket.join(spec.rooms(socket.data));
    const expiry = closeOnExpiry(socket, principal.expiresAt, clock, disconnected);
    spec.connected?.(socket, resumed);

    const command = commandRegistrar(socket, spec.name, { logger, metrics });
    const table = spec.commands(connectionOf(socket, spec, expiry));
    const register = <C extends CommandName<N>>(name: C) => command(name, table[name]);
    for (const name of Object.keys(table) as CommandName<N>[]) register(name);
  });

  return namespace;
}

/** The socket as its command handlers see it; its closures keep only the socket and the spec. */
function connectionOf<N extends ParleyNamespace, D extends PrincipalData, A>(
  socket: SocketOf<N, D>,
  spec: NamespaceSpec<N, D, A>,
  expiry: ExpiryTimer,
): Connection<N, D, A> {
  return {
    socket,
    actor: () => spec.actor(socket.data),
    rateKey: () => spec.rateKey(socket.data.principal),
    expiry,
  };
}
