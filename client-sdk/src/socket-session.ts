import { io, type Socket } from 'socket.io-client';
import type {
  AckResponse,
  ClientToServerEvents,
  CommandAck,
  CommandInput,
  CommandName,
  ErrorBody,
  ParleyNamespace,
  ServerToClientEvents,
} from '@parley/protocol';
import { isErrorCode } from '@parley/protocol';
import { retryDelay } from './backoff';
import { closedError, ParleyError } from './errors';
import type { Timers } from './timers';

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface SessionOptions<N extends ParleyNamespace> {
  /** The server's base URL, path prefix included (`https://example.com/chat`). */
  url: string;
  /** The Socket.IO path; by default `/socket.io` under the URL's path prefix. */
  path?: string;
  namespace: N;
  /** Read at every (re)connect, so a refreshed token is used from then on. */
  token(): string;
  transports?: ('websocket' | 'polling')[];
  ackTimeoutMs?: number;
  /** Not connected for this long (while trying): the status becomes `offline`. */
  offlineAfterMs?: number;
  timers: Timers;
  onStatus(status: ConnectionStatus): void;
  /** After every successful connect; `first` is the very first one, `recovered` says Socket.IO replayed what was missed. */
  onConnect(info: { first: boolean; recovered: boolean }): void;
  /** The server refused the handshake with UNAUTHORIZED: get a new token (or throw to give up). */
  onUnauthorized(): Promise<void>;
  /** The server refused this client for good; the session has stopped. */
  onFatal(error: ParleyError): void;
}

/** A socket of namespace `N`, typed from the protocol's map: what it hears and what it may send. */
export type SessionSocket<N extends ParleyNamespace> = Socket<ServerToClientEvents<N>, ClientToServerEvents<N>>;

export const DEFAULT_ACK_TIMEOUT_MS = 10_000;
export const DEFAULT_OFFLINE_AFTER_MS = 15_000;

/** Where Socket.IO must connect for a server at `url` (which may sit under a path prefix). */
export function socketTarget(url: string, namespace: string, path?: string): { uri: string; path: string } {
  const parsed = new URL(url);
  const prefix = parsed.pathname.replace(/\/+$/, '');
  return { uri: `${parsed.origin}${namespace}`, path: path ?? `${prefix}/socket.io` };
}

interface Waiter {
  resolve(): void;
  reject(error: ParleyError): void;
}

/** What the browser says about the network, where there is a browser. */
interface NetworkEvents {
  addEventListener?(type: 'online' | 'offline', listener: () => void): void;
  removeEventListener?(type: 'online' | 'offline', listener: () => void): void;
  navigator?: { onLine?: boolean };
}

/**
 * A Socket.IO connection that keeps itself up: it reconnects with backoff (Socket.IO's own), asks
 * for a new token when the server refuses the current one, and turns command acks into values or
 * ParleyErrors. When the server refuses the client for good it stops (`fatal`): every waiter and
 * every call is rejected with that refusal, at once, instead of waiting for a connection that
 * will never come.
 */
export class SocketSession<N extends ParleyNamespace> {
  /** For the clients' push listeners. */
  readonly socket: SessionSocket<N>;
  /**
   * The same socket, untyped: `call` and `notify` are typed from the map by their own signatures,
   * which socket.io's typed `emit` cannot check for a namespace that is a type parameter.
   */
  private readonly wire: Socket;
  private status: ConnectionStatus = 'connecting';
  private statusEmitted = false;
  private connectedOnce = false;
  private closed = false;
  private fatalError: ParleyError | undefined;
  private readonly waiters = new Set<Waiter>();
  /** Commands waiting for their ack: a disconnect rejects them at once (the ack can no longer come). */
  private readonly inFlight = new Set<(error: ParleyError) => void>();
  /** Refusals in a row despite fresh tokens: past a few, the cause is not the token. */
  private unauthorizedStreak = 0;
  /** Waits in a row for an unavailable server, for the backoff; reset by a connect. */
  private retryAttempt = 0;
  /** Bumped by `suspend()`: a command from before a change of identity is not sent as the new one. */
  private epoch = 0;
  /** Not connected for a while (or the browser says there is no network): `offline` until connected. */
  private outage = false;
  private cancelOutageTimer: () => void = () => undefined;
  private readonly network: NetworkEvents = globalThis as NetworkEvents;
  private readonly onBrowserOnline = () => this.handleBrowserNetwork(true);
  private readonly onBrowserOffline = () => this.handleBrowserNetwork(false);

  constructor(private readonly options: SessionOptions<N>) {
    const target = socketTarget(options.url, options.namespace, options.path);
    this.wire = io(target.uri, {
      path: target.path,
      auth: (cb) => cb({ token: options.token() }),
      transports: options.transports ?? ['websocket', 'polling'],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      randomizationFactor: 0.5,
      autoConnect: false,
      // socket.io-client caches one Manager (one connection) per URL: without this, two clients
      // in one page or process (a visitor and an agent, two visitors in tests) would share a
      // connection, its transports and its fate, and closing one could tear down the other.
      forceNew: true,
    });
    this.socket = this.wire as SessionSocket<N>;
    this.wire.on('connect', () => this.handleConnect());
    this.wire.on('disconnect', (reason) => this.handleDisconnect(reason));
    this.wire.on('connect_error', (error: Error & { data?: unknown }) => void this.handleConnectError(error));
    this.network.addEventListener?.('online', this.onBrowserOnline);
    this.network.addEventListener?.('offline', this.onBrowserOffline);
    this.armOutageTimer();
  }

  connect(): void {
    if (!this.closed && !this.fatalError) this.wire.connect();
  }

  get connected(): boolean {
    return this.wire.connected;
  }

  get currentStatus(): ConnectionStatus {
    return this.status;
  }

  /** The refusal that stopped the session, if one did. */
  get fatal(): ParleyError | undefined {
    return this.fatalError;
  }

  /** Emits the current status if none was emitted yet (the initial `connecting`). */
  announce(): void {
    if (this.statusEmitted) return;
    this.statusEmitted = true;
    this.options.onStatus(this.status);
  }

  /**
   * Resolves as soon as the socket is connected; rejects with the refusal once the session is
   * fatal, or when it is closed.
   */
  whenOnline(timeoutMs?: number): Promise<void> {
    const unusable = this.unusable();
    if (unusable) return Promise.reject(unusable);
    if (this.wire.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let cancel: () => void = () => undefined;
      const waiter: Waiter = {
        resolve: () => {
          cancel();
          resolve();
        },
        reject: (error) => {
          cancel();
          reject(error);
        },
      };
      this.waiters.add(waiter);
      if (timeoutMs !== undefined) {
        cancel = this.options.timers.after(timeoutMs, () => {
          this.waiters.delete(waiter);
          reject(new ParleyError('UNAVAILABLE', 'Not connected to the server'));
        });
      }
    });
  }

  /**
   * Sends a command and resolves with its ack's data. While offline it waits for the connection
   * (up to the timeout); a lost ack or a refusal becomes a ParleyError.
   */
  async call<C extends CommandName<N>>(
    event: C,
    payload: CommandInput<N, C>,
    timeoutMs = this.options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
  ): Promise<CommandAck<N, C>> {
    const epoch = this.epoch;
    if (!this.wire.connected) await this.whenOnline(timeoutMs);
    if (epoch !== this.epoch) {
      throw new ParleyError('UNAUTHORIZED', 'The client signed in as someone else before this was sent', undefined, {
        retryable: false,
      });
    }
    const unusable = this.unusable();
    if (unusable) throw unusable;
    const response = await new Promise<AckResponse<CommandAck<N, C>>>((resolve, reject) => {
      let settled = false;
      const fail = (error: ParleyError) => {
        if (settled) return;
        settled = true;
        cancel();
        this.inFlight.delete(fail);
        reject(error);
      };
      const cancel = this.options.timers.after(timeoutMs, () =>
        fail(new ParleyError('UNAVAILABLE', `No answer to ${event} in time`)),
      );
      this.inFlight.add(fail);
      this.wire.emit(event, payload, (ack: AckResponse<CommandAck<N, C>>) => {
        if (settled) return;
        settled = true;
        cancel();
        this.inFlight.delete(fail);
        resolve(ack);
      });
    });
    if (response?.ok === true) return response.data;
    if (response?.ok === false && isErrorCode(response.error?.code)) throw ParleyError.from(response.error);
    throw new ParleyError('INTERNAL', `The server answered ${event} with something that is not an ack`);
  }

  /** Fire-and-forget (typing indicators): dropped silently while offline. */
  notify<C extends CommandName<N>>(event: C, payload: CommandInput<N, C>): void {
    if (this.wire.connected) this.wire.emit(event, payload);
  }

  /**
   * Stops refusing, disconnects and forgets any earlier refusal, before the client changes who it
   * is (identify, logout); `connect()` then connects as the new identity. Commands still waiting
   * from before are not sent as the new identity.
   */
  suspend(): void {
    if (this.closed) return;
    this.epoch++;
    this.fatalError = undefined;
    this.unauthorizedStreak = 0;
    this.wire.disconnect();
    this.rejectInFlight(new ParleyError('UNAVAILABLE', 'Disconnected to change identity'));
    this.setStatus(this.connectedOnce ? 'reconnecting' : 'connecting');
    this.armOutageTimer();
  }

  /** The server (or the client's own sign-in) refused this client for good. */
  fail(error: ParleyError): void {
    if (this.closed || this.fatalError) return;
    // Final by definition: nothing waiting on the session may go on retrying after it.
    this.fatalError = error.retryable
      ? new ParleyError(error.code, error.message, error.details, { cause: error, retryable: false })
      : error;
    error = this.fatalError;
    this.wire.disconnect();
    this.rejectInFlight(error);
    this.rejectWaiters(error);
    this.cancelOutageTimer();
    this.setStatus('offline');
    this.options.onFatal(error);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.network.removeEventListener?.('online', this.onBrowserOnline);
    this.network.removeEventListener?.('offline', this.onBrowserOffline);
    this.cancelOutageTimer();
    this.wire.removeAllListeners();
    this.wire.io.removeAllListeners();
    this.wire.disconnect();
    this.rejectInFlight(closedError());
    this.rejectWaiters(closedError());
    this.setStatus('offline');
  }

  private unusable(): ParleyError | undefined {
    if (this.closed) return closedError();
    return this.fatalError;
  }

  private handleConnect(): void {
    const first = !this.connectedOnce;
    this.connectedOnce = true;
    this.unauthorizedStreak = 0;
    this.retryAttempt = 0;
    this.outage = false;
    this.cancelOutageTimer();
    this.setStatus('connected');
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter.resolve();
    this.options.onConnect({ first, recovered: this.wire.recovered });
  }

  private handleDisconnect(reason: string): void {
    if (this.closed || this.fatalError || reason === 'io client disconnect') return;
    this.rejectInFlight(new ParleyError('UNAVAILABLE', 'The connection was lost before the answer came'));
    this.armOutageTimer();
    if (this.network.navigator?.onLine === false) this.outage = true;
    // The server closed us on purpose (token expired, kicked): Socket.IO won't retry by itself.
    if (reason === 'io server disconnect') {
      this.setStatus('reconnecting');
      void this.reauthenticateAndConnect();
      return;
    }
    this.setStatus(this.wire.active ? 'reconnecting' : 'offline');
  }

  private async handleConnectError(error: Error & { data?: unknown }): Promise<void> {
    if (this.closed || this.fatalError) return;
    // A refusal by our middleware leaves the socket inactive; a network error keeps it retrying.
    if (this.wire.active) {
      this.setStatus(this.connectedOnce ? 'reconnecting' : 'connecting');
      return;
    }
    const body = errorBodyOf(error);
    if (body?.code === 'UNAUTHORIZED') {
      await this.reauthenticateAndConnect();
      return;
    }
    const refusal = body ? ParleyError.from(body) : new ParleyError('UNAVAILABLE', error.message);
    // The server could not decide (its database away, overloaded): that is no verdict on this
    // client, so try again later rather than give up for good.
    if (refusal.retryable) {
      await this.retryLater(refusal);
      this.connect();
      return;
    }
    this.fail(refusal);
  }

  private async reauthenticateAndConnect(): Promise<void> {
    if (++this.unauthorizedStreak > 3) {
      this.fail(new ParleyError('UNAUTHORIZED', "The server keeps refusing this client's credentials"));
      return;
    }
    const epoch = this.epoch;
    try {
      await this.options.onUnauthorized();
    } catch (raw) {
      if (this.closed || this.fatalError || epoch !== this.epoch) return;
      const error =
        raw instanceof ParleyError
          ? raw
          : new ParleyError('UNAUTHORIZED', raw instanceof Error ? raw.message : String(raw), undefined, {
              cause: raw,
            });
      // A new token could not be fetched because the server or the network is down (a restart, a
      // tunnel): not a refusal of the credentials, so it neither counts nor ends the session.
      if (error.retryable) {
        this.unauthorizedStreak--;
        await this.retryLater(error);
        if (!this.closed && !this.fatalError && epoch === this.epoch) await this.reauthenticateAndConnect();
        return;
      }
      this.fail(error);
      return;
    }
    if (epoch === this.epoch) this.connect();
  }

  /** Waits out a server-side or network failure with backoff (or the server's Retry-After). */
  private async retryLater(error: ParleyError): Promise<void> {
    this.setStatus(this.connectedOnce ? 'reconnecting' : 'connecting');
    await this.options.timers.sleep(retryDelay(error, this.retryAttempt++));
  }

  private handleBrowserNetwork(online: boolean): void {
    if (this.closed || this.fatalError || this.wire.connected) return;
    this.outage = !online;
    if (online) {
      this.setStatus(this.connectedOnce ? 'reconnecting' : 'connecting');
      this.armOutageTimer();
    } else {
      this.setStatus('offline');
    }
  }

  /** From now, not being connected for `offlineAfterMs` counts as an outage. */
  private armOutageTimer(): void {
    this.cancelOutageTimer();
    this.cancelOutageTimer = this.options.timers.after(this.options.offlineAfterMs ?? DEFAULT_OFFLINE_AFTER_MS, () => {
      if (this.closed || this.fatalError || this.wire.connected) return;
      this.outage = true;
      this.setStatus('offline');
    });
  }

  private setStatus(status: ConnectionStatus): void {
    // During an outage, each new failed attempt is still `offline`, not `reconnecting` again.
    if (this.outage && (status === 'connecting' || status === 'reconnecting')) status = 'offline';
    if (this.statusEmitted && this.status === status) return;
    this.status = status;
    this.statusEmitted = true;
    this.options.onStatus(status);
  }

  private rejectWaiters(error: ParleyError): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter.reject(error);
  }

  private rejectInFlight(error: ParleyError): void {
    const pending = [...this.inFlight];
    this.inFlight.clear();
    for (const fail of pending) fail(error);
  }
}

function errorBodyOf(error: Error & { data?: unknown }): ErrorBody | undefined {
  const data = error.data as Partial<ErrorBody> | undefined;
  if (data && isErrorCode(data.code)) return { code: data.code, message: data.message ?? error.message };
  if (isErrorCode(error.message)) return { code: error.message, message: error.message };
  return undefined;
}
