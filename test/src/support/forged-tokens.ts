import { createHmac } from 'node:crypto';

/**
 * Tokens that look like Parley's own and are not: built by hand from a real token's header and
 * claims, so that each differs from a token the server accepts in exactly one thing (the key, the
 * algorithm, a claim changed after signing, the expiry). `resigned` with the real secret and
 * nothing changed gives a token the server accepts, which is how a test shows that a refusal is
 * for the forgery and not for a mistake in building it.
 */

type Claims = Record<string, unknown>;

const segment = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function parts(token: string): { header: Claims; claims: Claims; signature: string } {
  const [header = '', claims = '', signature = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()) as Claims,
    claims: JSON.parse(Buffer.from(claims, 'base64url').toString()) as Claims,
    signature,
  };
}

/** The token's claims, unverified. */
export function claimsOf(token: string): Claims {
  return parts(token).claims;
}

/** The token's claims with `changes`, signed HS256 with `secret` under the token's own header (its `kid`). */
export function resigned(token: string, secret: string, changes: Claims = {}): string {
  const { header, claims } = parts(token);
  const body = `${segment({ ...header, alg: 'HS256' })}.${segment({ ...claims, ...changes })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

/** The same claims, `alg: none` and no signature (the token's `kid` kept, so the key is found). */
export function unsigned(token: string): string {
  const { header, claims } = parts(token);
  return `${segment({ ...header, alg: 'none' })}.${segment(claims)}.`;
}

/** The claims changed after signing, the original signature kept. */
export function tampered(token: string, changes: Claims): string {
  const { header, claims, signature } = parts(token);
  return `${segment(header)}.${segment({ ...claims, ...changes })}.${signature}`;
}

/** Signed with the right key, an hour past its expiry. */
export function expired(token: string, secret: string): string {
  const now = Math.floor(Date.now() / 1000);
  return resigned(token, secret, { iat: now - 7200, exp: now - 3600 });
}
