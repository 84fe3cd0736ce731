/**
 * How guessable a secret is, estimated from its characters. Not a proof of randomness: it catches
 * what people actually paste into production (`0123456789…`, the alphabet, `aaaa…`, `abab…`, a
 * word list, the placeholder from an example file), and passes what `openssl rand -base64 32`
 * gives.
 */

/** Fewer estimated bits than this and a secret is refused in production (a 128-bit key's worth). */
export const MIN_SECRET_BITS = 128;

/**
 * Fragments of placeholders from example files and tutorials, compared with the secret lowercased
 * and stripped to letters and digits. A random key of 32 bytes contains none of these by chance.
 */
const PLACEHOLDERS = [
  'changeme',
  'changethis',
  'replaceme',
  'yoursuper',
  'supersecret',
  'secretkey',
  'yoursecret',
  'mysecret',
  'jwtsecret',
  'placeholder',
  'example',
  'password',
  'default',
  'insecure',
  'notsecret',
  'dummy',
];

/** Size of the alphabet the secret draws from, by the character classes it uses. */
function poolSize(secret: string): number {
  let pool = 0;
  if (/[0-9]/.test(secret)) pool += 10;
  if (/[a-z]/.test(secret)) pool += 26;
  if (/[A-Z]/.test(secret)) pool += 26;
  if (/[^0-9A-Za-z]/.test(secret)) pool += 33;
  return Math.max(pool, 2);
}

/**
 * Estimated bits: each character is worth log2 of the pool, except one that carries on a run
 * (the same step from its predecessor as the one before: `aaa`, `abc`, `987`) or ends a
 * three-character piece already seen earlier (`abab…`, `0123…0123…`), which is worth one bit.
 */
export function estimateSecretBits(secret: string): number {
  const chars = [...secret];
  const free = Math.log2(poolSize(secret));
  let bits = 0;
  for (let i = 0; i < chars.length; i++) {
    const code = (k: number) => chars[k]?.codePointAt(0) ?? 0;
    const run = i >= 2 && code(i) - code(i - 1) === code(i - 1) - code(i - 2);
    const seen =
      i >= 3 &&
      chars
        .slice(0, i - 1)
        .join('')
        .includes(chars.slice(i - 2, i + 1).join(''));
    bits += run || seen ? 1 : free;
  }
  return bits;
}

/** Why `secret` is unfit for production, or undefined when it is fine. */
export function secretWeakness(secret: string): string | undefined {
  if (Buffer.byteLength(secret) < 32) return 'must be at least 32 bytes in production';
  const normalized = secret.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (PLACEHOLDERS.some((placeholder) => normalized.includes(placeholder))) {
    return 'looks like a placeholder; use a random value (openssl rand -base64 32)';
  }
  if (estimateSecretBits(secret) < MIN_SECRET_BITS) {
    return 'is too predictable (sequences or repeats); use a random value (openssl rand -base64 32)';
  }
  return undefined;
}
