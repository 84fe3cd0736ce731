import { ParleyError } from './errors';

/**
 * The server's base URL for REST calls: origin plus any path prefix (a server behind a proxy at
 * `https://example.com/chat`), without a trailing slash. Anything else is refused at once.
 */
export function baseUrlOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ParleyError('BAD_REQUEST', `url must be an absolute http(s) URL, not ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ParleyError('BAD_REQUEST', `url must be an http(s) URL, not ${JSON.stringify(url)}`);
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}
