import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Passwords are stored only as a slow, salted scrypt hash: `scrypt$N$r$p$salt$hash`. The cost
 * parameters travel with each hash, so raising them never invalidates stored hashes: a hash made
 * with other parameters still verifies, and `needsRehash` tells the login to store a new one.
 */
export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/** OWASP's Password Storage Cheat Sheet (2025): N=2^17, r=8, p=1, about 128 MiB and ~0.3 s per hash. */
export const SCRYPT_COST: ScryptCost = { N: 2 ** 17, r: 8, p: 1 };

const KEY_LENGTH = 64;

/**
 * Stored hashes are ours, but a corrupt or planted one must not make a login allocate gigabytes or
 * spin for minutes: anything beyond these bounds simply does not verify.
 */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

/**
 * scrypt needs 128·N·r bytes; Node refuses above `maxmem` (32 MiB by default, less than OWASP's
 * parameters need), so the limit is set per hash from its own parameters, with room to spare.
 */
function scrypt(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const options: ScryptOptions = { ...cost, maxmem: 128 * cost.N * cost.r + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function parse(stored: string): { cost: ScryptCost; salt: Buffer; hash: Buffer } | undefined {
  const [scheme, n, r, p, salt, hash, ...rest] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash || rest.length > 0) return undefined;
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  const powerOfTwo = Number.isInteger(cost.N) && cost.N > 1 && (cost.N & (cost.N - 1)) === 0;
  if (!powerOfTwo || cost.N > MAX_N) return undefined;
  if (!Number.isInteger(cost.r) || cost.r < 1 || cost.r > MAX_R) return undefined;
  if (!Number.isInteger(cost.p) || cost.p < 1 || cost.p > MAX_P) return undefined;
  return { cost, salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
}

export class PasswordHasher {
  private decoy: Promise<string> | undefined;

  constructor(readonly cost: ScryptCost = SCRYPT_COST) {}

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await scrypt(password, salt, this.cost);
    const { N, r, p } = this.cost;
    return ['scrypt', N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
  }

  /** Compares in constant time, with the parameters stored in the hash; a malformed hash does not verify. */
  async verify(password: string, stored: string): Promise<boolean> {
    const parsed = parse(stored);
    if (!parsed) return false;
    const actual = await scrypt(password, parsed.salt, parsed.cost);
    return actual.length === parsed.hash.length && timingSafeEqual(actual, parsed.hash);
  }

  /** A hash made with other parameters than the current ones: store a new one at the next login. */
  needsRehash(stored: string): boolean {
    const parsed = parse(stored);
    if (!parsed) return true;
    const { N, r, p } = parsed.cost;
    return N !== this.cost.N || r !== this.cost.r || p !== this.cost.p;
  }

  /**
   * A real hash of a random password, checked when the email is unknown, so that a login attempt
   * takes as long for an unknown email as for a wrong password and reveals nothing.
   */
  decoyHash(): Promise<string> {
    this.decoy ??= this.hash(randomBytes(16).toString('hex'));
    return this.decoy;
  }
}
