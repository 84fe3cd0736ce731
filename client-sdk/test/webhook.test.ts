import { createHmac, randomBytes } from 'node:crypto';
import { verifyWebhook, WebhookVerificationError } from '../src/webhook';

/** Signs as the server does (Standard Webhooks): `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`. */
function sign(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

describe('verifyWebhook', () => {
  const secret = newSecret();
  const now = 1_750_000_000_000;
  const timestamp = now / 1000;
  const body = JSON.stringify({
    type: 'lead.deleted',
    timestamp: new Date(now).toISOString(),
    data: { leadId: 'l1', projectId: 'p1' },
  });
  const headers = (signature = sign(secret, 'msg_1', timestamp, body), ts = timestamp) => ({
    'webhook-id': 'msg_1',
    'webhook-timestamp': String(ts),
    'webhook-signature': signature,
  });
  const clock = { now: () => now };

  it('returns the event of a delivery signed with the secret, from a string or the raw bytes', async () => {
    await expect(verifyWebhook(secret, headers(), body, clock)).resolves.toEqual(JSON.parse(body));
    await expect(verifyWebhook(secret, headers(), Buffer.from(body), clock)).resolves.toEqual(JSON.parse(body));
    // fetch's Headers, and header names in any case, are fine.
    const fetchHeaders = new Headers(headers());
    await expect(verifyWebhook(secret, fetchHeaders, body, clock)).resolves.toEqual(JSON.parse(body));
    const upper = Object.fromEntries(Object.entries(headers()).map(([k, v]) => [k.toUpperCase(), v]));
    await expect(verifyWebhook(secret, upper, body, clock)).resolves.toEqual(JSON.parse(body));
  });

  it('accepts any one of several signatures (a rotation), and any one of several secrets', async () => {
    const previous = newSecret();
    const both = `${sign(newSecret(), 'msg_1', timestamp, body)} ${sign(previous, 'msg_1', timestamp, body)}`;
    await expect(verifyWebhook(previous, headers(both), body, clock)).resolves.toBeDefined();
    await expect(verifyWebhook([newSecret(), secret], headers(), body, clock)).resolves.toBeDefined();
  });

  it('refuses a changed body, another secret, a missing header or a stale timestamp', async () => {
    const refused = (promise: Promise<unknown>) => expect(promise).rejects.toBeInstanceOf(WebhookVerificationError);
    await refused(verifyWebhook(secret, headers(), body.replace('l1', 'l2'), clock));
    await refused(verifyWebhook(newSecret(), headers(), body, clock));
    await refused(verifyWebhook(secret, { ...headers(), 'webhook-id': 'msg_2' }, body, clock));
    await refused(
      verifyWebhook(secret, { 'webhook-id': 'msg_1', 'webhook-timestamp': String(timestamp) }, body, clock),
    );
    await refused(verifyWebhook(secret, headers('v1,not-base64!'), body, clock));
    await refused(
      verifyWebhook(secret, headers(sign(secret, 'msg_1', timestamp, body).replace('v1,', 'v2,')), body, clock),
    );
    // Six minutes old: past the default tolerance of five; within a wider one.
    const old = headers(sign(secret, 'msg_1', timestamp - 360, body), timestamp - 360);
    await refused(verifyWebhook(secret, old, body, clock));
    await expect(verifyWebhook(secret, old, body, { ...clock, toleranceSeconds: 600 })).resolves.toBeDefined();
  });
});
