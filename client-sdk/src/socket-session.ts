import { io, type Socket } from 'socket.io-client';
import type { AckResponse, ErrorBody } from '@parley/protocol';
import { isErrorCode } from '@parley/protocol';
import { backoffDelay, sleep } from './backoff';
import { ParleyError } from './errors';

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface SessionOptions {
  url: string;
  namespace: '/visitor' | '/agent';
  /** Read at every (re)connect, so a refreshed token is used from then on. */
  token(): string;
  transports?: ('websocket' | 'polling')[];
  ackTimeoutMs?: number;
  onStatus(status: ConnectionStatus): void;
  /** After every successful connect; `first` is the very first one, `recovered` says Socket.IO replayed what was missed. */
  onConnect(info: { first: boolean; recovered: boolean }): void;
  /** The server refused the handshake with UNAUTHORIZED: get a new token (or throw to give up). */
  onUnauthorized(): Promise<void>;
  onFatal(error: ParleyError): void;
}

const DEFAULT_ACK_TIMEOUT_MS = 10_000;

/**
 * A Socket.IO connection that keeps itself up: it reconnects with backoff (Socket.IO's own), asks
 * for a new token when the server refuses the current one, and turns command acks into values or
 * ParleyErrors. Event names are typed by the caller through `on`/`call`.
 */
export class SocketSession {
  readonly socket: Socket;
  private status: ConnectionStatus = 'connecting';
  private connectedOnce = false;
  private closed = false;
  private onlineWaiters: (() => void)[] = [];
  /** Refusals in a row despite fresh tokens: past a few, the cause is not the token. */
  private unauthorizedStreak = 0;
  /** Waits in a row for an unavailable server, for the backoff; reset by a connect. */
  private retryAttempt = 0;

  constructor(private readonly options: SessionOptions) {
    this.socket = io(`${options.url}${options.namespace}`, {
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
    this.socket.on('connect', () => this.handleConnect());
    this.socket.on('disconnect', (reason) => this.handleDisconnect(reason));
    this.socket.on('connect_error', (error: Error & { data?: unknown }) => void this.handleConnectError(error));
  }

  connect(): void {
    if (!this.closed) this.socket.connect();
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  get currentStatus(): ConnectionStatus {
    return this.status;
  }

  /** Resolves as soon as the socket is connected. */
  whenOnline(): Promise<void> {
    if (this.socket.connected || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.onlineWaiters.push(resolve));
  }

  /**
   * Sends a command and resolves with its ack's data. While offline it waits for the connection
   * (up to the timeout); a lost ack or a refusal becomes a ParleyError.
   */
  async call<T>(
    event: string,
    payload: unknown,
    timeoutMs = this.options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
  ): Promise<T> {
    if (this.closed) throw new ParleyError('UNAVAILABLE', 'The client is closed');
    if (!this.socket.connected) {
      const online = await Promise.race([this.whenOnline().then(() => true), delay(timeoutMs).then(() => false)]);
      if (!online || this.closed) throw new ParleyError('UNAVAILABLE', 'Not connected to the server');
    }
    const response = await new Promise<AckResponse<T>>((resolve, reject) => {
      this.socket.timeout(timeoutMs).emit(event, payload, (error: Error | null, ack: AckResponse<T>) => {
        if (error) reject(new ParleyError('UNAVAILABLE', `No answer to ${event} in time`));
        else resolve(ack);
      });
    });
    if (response.ok) return response.data;
    throw toError(response.error);
  }

  /** Fire-and-forget (typing indicators): dropped silently while offline. */
  notify(event: string, payload: unknown): void {
    if (this.socket.connected) this.socket.emit(event, payload);
  }

  close(): void {
    this.closed = true;
    this.socket.removeAllListeners();
    this.socket.io.removeAllListeners();
    this.socket.disconnect();
    this.releaseWaiters();
    this.setStatus('offline');
  }

  private handleConnect(): void {
    const first = !this.connectedOnce;
    this.connectedOnce = true;
    this.unauthorizedStreak = 0;
    this.retryAttempt = 0;
    this.setStatus('connected');
    this.releaseWaiters();
    this.options.onConnect({ first, recovered: this.socket.recovered });
  }

  private handleDisconnect(reason: string): void {
    if (this.closed) return;
    // The server closed us on purpose (token expired, kicked): Socket.IO won't retry by itself.
    if (reason === 'io server disconnect') {
      this.setStatus('reconnecting');
      void this.reauthenticateAndConnect();
      return;
    }
    this.setStatus(this.socket.active ? 'reconnecting' : 'offline');
  }

  private async handleConnectError(error: Error & { data?: unknown }): Promise<void> {
    if (this.closed) return;
    // A refusal by our middleware leaves the socket inactive; a network error keeps it retrying.
    if (this.socket.active) {
      this.setStatus(this.connectedOnce ? 'reconnecting' : 'connecting');
      return;
    }
    const body = errorBodyOf(error);
    if (body?.code === 'UNAUTHORIZED') {
      await this.reauthenticateAndConnect();
      return;
    }
    const refusal = body ? toError(body) : new ParleyError('UNAVAILABLE', error.message);
    // The server could not decide (its database away, overloaded): that is no verdict on this
    // client, so try again later rather than give up for good.
    if (refusal.retryable) {
      await this.retryLater(refusal);
      if (!this.closed) this.connect();
      return;
    }
    this.setStatus('offline');
    this.options.onFatal(refusal);
  }

  private async reauthenticateAndConnect(): Promise<void> {
    if (++this.unauthorizedStreak > 3) {
      this.setStatus('offline');
      this.options.onFatal(new ParleyError('UNAUTHORIZED', "The server keeps refusing this client's credentials"));
      return;
    }
    try {
      await this.options.onUnauthorized();
    } catch (raw) {
      const error = raw instanceof ParleyError ? raw : new ParleyError('UNAUTHORIZED', String(raw));
      // A new token could not be fetched because the server or the network is down (a restart, a
      // tunnel): not a refusal of the credentials, so it neither counts nor ends the session.
      if (error.retryable && !this.closed) {
        this.unauthorizedStreak--;
        await this.retryLater(error);
        if (!this.closed) await this.reauthenticateAndConnect();
        return;
      }
      this.setStatus('offline');
      this.options.onFatal(error);
      return;
    }
    this.connect();
  }

  /** Waits out a server-side or network failure with backoff (or the server's Retry-After). */
  private async retryLater(error: ParleyError): Promise<void> {
    this.setStatus(this.connectedOnce ? 'reconnecting' : 'connecting');
    const retryAfter = error.details?.retryAfterMs;
    await sleep(typeof retryAfter === 'number' ? retryAfter : backoffDelay(this.retryAttempt++));
  }

  private setStatus(status: ConnectionStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.options.onStatus(status);
  }

  private releaseWaiters(): void {
    const waiters = this.onlineWaiters.splice(0);
    for (const resolve of waiters) resolve();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorBodyOf(error: Error & { data?: unknown }): ErrorBody | undefined {
  const data = error.data as Partial<ErrorBody> | undefined;
  if (data && isErrorCode(data.code)) return { code: data.code, message: data.message ?? error.message };
  if (isErrorCode(error.message)) return { code: error.message, message: error.message };
  return undefined;
}

function toError(body: ErrorBody): ParleyError {
  return ParleyError.from(body);
}
