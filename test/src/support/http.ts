import { assertDescribed } from './contract';

export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** A raw body sent as is (for malformed-JSON tests). */
  rawBody?: string;
  headers?: Record<string, string>;
}

/**
 * A small fetch wrapper for the REST API; never throws on an error status, but throws on a
 * response the published OpenAPI document does not describe (see contract.ts).
 */
export async function request<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers['authorization'] = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) {
    body = options.rawBody;
    headers['content-type'] ??= 'application/json';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  let parsed: unknown = text;
  const contentType = response.headers.get('content-type') ?? '';
  if (contentType.includes('application/json')) parsed = JSON.parse(text);
  assertDescribed({ method, url: path, status: response.status, contentType, body: parsed, text });
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

export function client(baseUrl: string) {
  return {
    get: <T = unknown>(path: string, options?: RequestOptions) => request<T>(baseUrl, 'GET', path, options),
    post: <T = unknown>(path: string, options?: RequestOptions) => request<T>(baseUrl, 'POST', path, options),
    patch: <T = unknown>(path: string, options?: RequestOptions) => request<T>(baseUrl, 'PATCH', path, options),
    put: <T = unknown>(path: string, options?: RequestOptions) => request<T>(baseUrl, 'PUT', path, options),
    delete: <T = unknown>(path: string, options?: RequestOptions) => request<T>(baseUrl, 'DELETE', path, options),
  };
}
