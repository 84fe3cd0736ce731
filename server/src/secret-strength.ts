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
 * Where each key sits on a US QWERTY keyboard (row, column), shifted characters on their key: a
 * walk along a row (`qwerty`, `asdf`), down a column (`qaz`, `1qaz`) or a diagonal is as easy to
 * type, and as common in pasted secrets, as a run of the alphabet.
 */
const KEYBOARD_ROWS = [
  ['1234567890-=', '!@#$%^&*()_+'],
  ['qwertyuiop[]\\', 'QWERTYUIOP{}|'],
  ["asdfghjkl;'", 'ASDFGHJKL:"'],
  ['zxcvbnm,./', 'ZXCVBNM<>?'],
];
const KEY_POSITIONS = new Map<string, { row: number; column: number }>();
KEYBOARD_ROWS.forEach((layers, row) => {
  for (const layer of layers) [...layer].forEach((char, column) => KEY_POSITIONS.set(char, { row, column }));
});

/** Whether `c` carries on the keyboard walk from `a` to `b`: the same step between neighbouring keys. */
function keyboardRun(a: string, b: string, c: string): boolean {
  const [pa, pb, pc] = [KEY_POSITIONS.get(a), KEY_POSITIONS.get(b), KEY_POSITIONS.get(c)];
  if (!pa || !pb || !pc) return false;
  const row = pb.row - pa.row;
  const column = pb.column - pa.column;
  if (Math.abs(row) > 1 || Math.abs(column) > 1 || (row === 0 && column === 0)) return false;
  return pc.row - pb.row === row && pc.column - pb.column === column;
}

/**
 * Estimated bits: each character is worth log2 of the pool, except one that carries on a run
 * (the same step from its predecessor as the one before: `aaa`, `abc`, `987`, or on the keyboard
 * `qwe`, `lkj`, `qaz`) or ends a three-character piece already seen earlier (`abab…`,
 * `0123…0123…`), which is worth one bit.
 */
export function estimateSecretBits(secret: string): number {
  const chars = [...secret];
  const free = Math.log2(poolSize(secret));
  let bits = 0;
  for (let i = 0; i < chars.length; i++) {
    const code = (k: number) => chars[k]?.codePointAt(0) ?? 0;
    const run =
      i >= 2 &&
      (code(i) - code(i - 1) === code(i - 1) - code(i - 2) ||
        keyboardRun(chars[i - 2] ?? '', chars[i - 1] ?? '', chars[i] ?? ''));
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

/**
 * Whether two secrets are too alike for holding one not to give away the other: the same ignoring
 * case, one inside the other, or only a few edits apart (`…key1`/`…key2`, one character added).
 * Two random secrets of 32 bytes are dozens of edits apart.
 */
export function secretsTooAlike(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x.includes(y) || y.includes(x)) return true;
  return editDistanceAtMost(x, y, Math.max(MIN_EDITS_APART, Math.floor(Math.max(x.length, y.length) / 4)));
}

/** Fewest edits two secrets must be apart, however short (a quarter of the longer one when more). */
const MIN_EDITS_APART = 8;

/** Whether the Levenshtein distance of `a` and `b` is at most `limit` (by code unit; a band of width 2·limit). */
function editDistanceAtMost(a: string, b: string, limit: number): boolean {
  if (Math.abs(a.length - b.length) > limit) return false;
  const over = limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => (j <= limit ? j : over));
  for (let i = 1; i <= a.length; i++) {
    const current = new Array<number>(b.length + 1).fill(over);
    if (i <= limit) current[0] = i;
    let best = current[0] ?? over;
    for (let j = Math.max(1, i - limit); j <= Math.min(b.length, i + limit); j++) {
      const substitution = (previous[j - 1] ?? over) + (a[i - 1] === b[j - 1] ? 0 : 1);
      const value = Math.min(substitution, (previous[j] ?? over) + 1, (current[j - 1] ?? over) + 1, over);
      current[j] = value;
      best = Math.min(best, value);
    }
    if (best > limit) return false;
    previous = current;
  }
  return (previous[b.length] ?? over) <= limit;
}
