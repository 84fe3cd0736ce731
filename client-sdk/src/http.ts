import type { ErrorResponse } from '@parley/protocol';
import { isErrorCode } from '@parley/protocol';
import { ParleyError } from './errors';

export interface HttpOptions {
  token?: string;
  body?: unknown;
  signal?: AbortSignal;
}

/** REST calls: JSON in and out, protocol errors as ParleyError, network failures as UNAVAILABLE. */
export class Http {
  constructor(private readonly baseUrl: string) {}

  async json<T>(method: string, path: string, options: HttpOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  async text(method: string, path: string, options: HttpOptions = {}): Promise<string> {
    return (await this.send(method, path, options)).text();
  }

  private async send(method: string, path: string, options: HttpOptions): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      throw new ParleyError(
        'UNAVAILABLE',
        `Cannot reach the server: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (response.ok) return response;
    let body: Partial<ErrorResponse> = {};
    try {
      body = (await response.json()) as ErrorResponse;
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
    throw new ParleyError(response.status >= 500 ? 'UNAVAILABLE' : 'BAD_REQUEST', `HTTP ${response.status}`);
  }
}
