import type { ErrorResponse } from '@parley/protocol';
import { ERROR_STATUS, isErrorCode, type ErrorCode } from '@parley/protocol';
import { closedError, ParleyError } from './errors';
import type { Timers } from './timers';

export interface HttpOptions {
  token?: string;
  body?: unknown;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 20_000;

/**
 * REST calls: JSON in and out, protocol errors as ParleyError, network failures (and answers that
 * take longer than `timeoutMs`, or are not what the API sends) as `UNAVAILABLE`. Every request is
 * aborted when the client closes.
 */
export class Http {
  private readonly inFlight = new Set<AbortController>();

  constructor(
    private readonly baseUrl: string,
    private readonly timers: Timers,
    private readonly timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
  ) {}

  async json<T>(method: string, path: string, options: HttpOptions = {}): Promise<T> {
    return this.request(method, path, options, async (response) => {
      if (response.status === 204) return undefined as T;
      const text = await response.text();
      try {
        return JSON.parse(text) as T;
      } catch {
        // A proxy's or captive portal's page instead of the API: the server was not reached.
        throw new ParleyError(
          'UNAVAILABLE',
          `The server answered ${method} ${path} with HTTP ${response.status} but not with JSON`,
        );
      }
    });
  }

  async text(method: string, path: string, options: HttpOptions = {}): Promise<string> {
    return this.request(method, path, options, (response) => response.text());
  }

  close(): void {
    for (const controller of this.inFlight) controller.abort();
    this.inFlight.clear();
  }

  private async request<T>(
    method: string,
    path: string,
    options: HttpOptions,
    read: (response: Response) => Promise<T>,
  ): Promise<T> {
    if (this.timers.closed) throw closedError();
    const controller = new AbortController();
    let timedOut = false;
    const cancelTimeout = this.timers.after(this.timeoutMs, () => {
      timedOut = true;
      controller.abort();
    });
    this.inFlight.add(controller);
    try {
      const response = await this.send(method, path, options, controller.signal);
      return await read(response);
    } catch (error) {
      if (error instanceof ParleyError) throw error;
      if (this.timers.closed) throw closedError();
      const why = timedOut
        ? `no answer within ${this.timeoutMs} ms`
        : error instanceof Error
          ? error.message
          : String(error);
      throw new ParleyError('UNAVAILABLE', `Cannot reach the server (${method} ${path}): ${why}`);
    } finally {
      cancelTimeout();
      this.inFlight.delete(controller);
    }
  }

  private async send(method: string, path: string, options: HttpOptions, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      signal,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    if (response.ok) return response;
    let body: Partial<ErrorResponse> = {};
    try {
      body = JSON.parse(await response.text()) as ErrorResponse;
    } catch {
      // not JSON (a proxy's error page): fall through to the status
    }
    const error = body.error;
    if (error && isErrorCode(error.code)) {
      const details = { ...error.details };
      const retryAfter = Number(response.headers.get('retry-after'));
      if (error.code === 'RATE_LIMITED' && details.retryAfterMs === undefined && retryAfter > 0) {
        details.retryAfterMs = retryAfter * 1000;
      }
      throw new ParleyError(error.code, error.message, details);
    }
    throw new ParleyError(codeOfStatus(response.status), `HTTP ${response.status}`);
  }
}

/** An error answer without a protocol body (a proxy's page): the code of its status, roughly. */
function codeOfStatus(status: number): ErrorCode {
  if (status >= 500) return 'UNAVAILABLE';
  const exact = (Object.entries(ERROR_STATUS) as [ErrorCode, number][]).find(([, s]) => s === status);
  return exact ? exact[0] : 'BAD_REQUEST';
}
