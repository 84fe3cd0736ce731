import type { WebhookPayload } from '@parley/protocol';

/** A delivery whose headers, signature or timestamp do not check out: answer it with 400 and drop it. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
}

/** Node's `req.headers`, a fetch `Headers`, or any map of header names (in any case) to values. */
export type WebhookHeaders = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** How far the `webhook-timestamp` may be from now, either way (replays, skewed clocks). Default 300. */
  toleranceSeconds?: number;
  /** The current time in milliseconds (tests). */
  now?: () => number;
}

const SECRET_PREFIX = 'whsec_';

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const map = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(map).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : map[key];
  return Array.isArray(value) ? value[0] : value;
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Verifies a Parley webhook delivery (Standard Webhooks) and returns its event:
 * - the `webhook-timestamp` must be within `toleranceSeconds` of now;
 * - one of the `v1,<signature>` entries of `webhook-signature` (there are two for a day after a
 *   rotation) must be the HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` under `secret`
 *   (or under one of several secrets, while a receiver moves to a rotated one);
 * compared in constant time (Web Crypto's `verify`), so it runs in Node 20+, Deno, Bun and workers.
 *
 * `rawBody` must be the body exactly as received (a Buffer, or the string before any JSON parsing):
 * re-serialized JSON does not verify. Throws WebhookVerificationError when anything is wrong. Keep
 * the `webhook-id` of what you processed: a delivery may come more than once, always with it.
 */
export async function verifyWebhook(
  secret: string | string[],
  headers: WebhookHeaders,
  rawBody: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): Promise<WebhookPayload> {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures)
    throw new WebhookVerificationError('Missing webhook-id, webhook-timestamp or webhook-signature');
  if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookVerificationError('Invalid webhook-timestamp');
  const now = (options.now ?? Date.now)() / 1000;
  if (Math.abs(now - Number(timestamp)) > (options.toleranceSeconds ?? 300))
    throw new WebhookVerificationError('The webhook-timestamp is too far from now');

  const body = typeof rawBody === 'string' ? new TextEncoder().encode(rawBody) : rawBody;
  const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);

  const given = signatures
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => {
      try {
        return fromBase64(entry.slice(3));
      } catch {
        return undefined;
      }
    })
    .filter((sig): sig is Uint8Array<ArrayBuffer> => sig !== undefined);
  for (const value of Array.isArray(secret) ? secret : [secret]) {
    let keyBytes: Uint8Array<ArrayBuffer>;
    try {
      keyBytes = fromBase64(value.startsWith(SECRET_PREFIX) ? value.slice(SECRET_PREFIX.length) : value);
    } catch {
      throw new WebhookVerificationError('The secret is not a whsec_ secret');
    }
    const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    for (const signature of given) {
      if (await crypto.subtle.verify('HMAC', key, signature, signed)) {
        try {
          return JSON.parse(new TextDecoder().decode(body)) as WebhookPayload;
        } catch {
          throw new WebhookVerificationError('The body is not JSON');
        }
      }
    }
  }
  throw new WebhookVerificationError('No signature matches');
}
