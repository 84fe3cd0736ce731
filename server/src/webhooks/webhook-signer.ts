import { createHmac, randomBytes } from 'node:crypto';
import type { WebhookDoc } from './webhook-model';

const PREFIX = 'whsec_';

/** `whsec_` and base64 of 32 random bytes, as Standard Webhooks libraries expect. */
export function newSecret(): string {
  return `${PREFIX}${randomBytes(32).toString('base64')}`;
}

/** The secrets that sign now: the current one, and the previous one until its 24 hours are over. */
export function signingSecrets(webhook: Pick<WebhookDoc, 'secrets'>, now = new Date()): string[] {
  return webhook.secrets.filter((s) => !s.expiresAt || s.expiresAt > now).map((s) => s.value);
}

/**
 * `webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` for each secret,
 * space-separated (a receiver accepts the delivery if any one verifies).
 */
export function signatureHeader(secrets: string[], id: string, timestamp: number, body: string): string {
  return secrets
    .map((secret) => {
      const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
      return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
    })
    .join(' ');
}
