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
  /**
   * What an unknown email (or an unreadable stored hash) is checked against: a hash in the stored
   * format at the current parameters, with random bytes for salt and key. Checking a password
   * against it costs the one scrypt a real hash costs, and no password matches it. Random bytes
   * rather than a real hash of some password: making one would cost the first unknown email a
   * second scrypt, which is the very difference it hides.
   */
  private readonly decoy: string;

  constructor(readonly cost: ScryptCost = SCRYPT_COST) {
    const { N, r, p } = cost;
    this.decoy = [
      'scrypt',
      N,
      r,
      p,
      randomBytes(16).toString('base64'),
      randomBytes(KEY_LENGTH).toString('base64'),
    ].join('$');
  }

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

  /**
   * A login's check: the account's stored hash when there is an account with a readable one, else
   * the decoy. Either way exactly one scrypt runs, at the current cost for an unknown email, so a
   * login for an email nobody has takes as long as a wrong password for an agent's email, and the
   * answer's timing does not tell which emails are agents'.
   */
  async verifyAccount(password: string, stored: string | undefined): Promise<boolean> {
    const readable = stored !== undefined && parse(stored) !== undefined;
    const ok = await this.verify(password, readable ? stored : this.decoy);
    return readable && ok;
  }

  /**
   * Whether a hash that just verified should be made again at the current parameters: when it is
   * unreadable or any of its parameters is below the current one. Never when it is stronger (made
   * while a higher N was configured, e.g. a database that a test or a lowered PASSWORD_SCRYPT_N now
   * serves): re-making it would lower its cost.
   */
  needsRehash(stored: string): boolean {
    const parsed = parse(stored);
    if (!parsed) return true;
    const { N, r, p } = parsed.cost;
    return N < this.cost.N || r < this.cost.r || p < this.cost.p;
  }
}
