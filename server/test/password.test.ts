import crypto, { randomBytes, scryptSync } from 'node:crypto';
import { PasswordHasher, SCRYPT_COST } from '../src/agents/password';

/** A hash in the stored format made directly with node:crypto, as an older server made them. */
function legacyHash(password: string, N: number): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, 64, { N, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  return ['scrypt', N, 8, 1, salt.toString('base64'), key.toString('base64')].join('$');
}

describe('password hashing', () => {
  it("uses OWASP's current scrypt parameters by default, stored with the hash", async () => {
    expect(SCRYPT_COST).toEqual({ N: 2 ** 17, r: 8, p: 1 });
    const hasher = new PasswordHasher();
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash.startsWith('scrypt$131072$8$1$')).toBe(true);
    expect(await hasher.verify('correct horse battery staple', hash)).toBe(true);
    expect(hasher.needsRehash(hash)).toBe(false);
  });

  it('salts, and verifies only the right password', async () => {
    const hasher = new PasswordHasher({ N: 2 ** 10, r: 8, p: 1 });
    const a = await hasher.hash('correct horse battery staple');
    const b = await hasher.hash('correct horse battery staple');
    expect(a).not.toBe(b);
    expect(await hasher.verify('correct horse battery staple', a)).toBe(true);
    expect(await hasher.verify('correct horse battery stapler', a)).toBe(false);
    expect(await hasher.verify('anything', 'not-a-hash')).toBe(false);
  });

  it('verifies a hash made with older parameters and says it needs a rehash', async () => {
    const hasher = new PasswordHasher();
    const old = legacyHash('correct horse battery staple', 16384);
    expect(await hasher.verify('correct horse battery staple', old)).toBe(true);
    expect(await hasher.verify('wrong', old)).toBe(false);
    expect(hasher.needsRehash(old)).toBe(true);
    expect(hasher.needsRehash('garbage')).toBe(true);
  });

  it('rehashes only upwards: a stored hash stronger than the current parameters is kept', () => {
    const hasher = new PasswordHasher({ N: 2 ** 14, r: 8, p: 1 });
    const salt = randomBytes(16).toString('base64');
    const stored = (N: number, r: number, p: number) => `scrypt$${N}$${r}$${p}$${salt}$${salt}`;
    expect(hasher.needsRehash(stored(2 ** 14, 8, 1))).toBe(false);
    // Made while a higher N was configured (production's, read by a test server at 2^14).
    expect(hasher.needsRehash(stored(2 ** 17, 8, 1))).toBe(false);
    expect(hasher.needsRehash(stored(2 ** 14, 16, 2))).toBe(false);
    expect(hasher.needsRehash(stored(2 ** 13, 8, 1))).toBe(true);
    expect(hasher.needsRehash(stored(2 ** 17, 4, 1))).toBe(true);
    expect(hasher.needsRehash(stored(2 ** 14, 8, 1).replace('scrypt', 'bcrypt'))).toBe(true);
  });

  it('checks an unknown account against a decoy at the current cost, which no password opens', async () => {
    const hasher = new PasswordHasher({ N: 2 ** 10, r: 8, p: 1 });
    const real = await hasher.hash('correct horse battery staple');
    const scrypt = jest.spyOn(crypto, 'scrypt');
    try {
      expect(await hasher.verifyAccount('correct horse battery staple', undefined)).toBe(false);
      expect(await hasher.verifyAccount('', undefined)).toBe(false);
      expect(await hasher.verifyAccount('correct horse battery staple', 'garbage')).toBe(false);
      expect(await hasher.verifyAccount('correct horse battery staple', real)).toBe(true);
      expect(await hasher.verifyAccount('wrong', real)).toBe(false);
      expect(scrypt.mock.calls.map((call) => (call[3] as crypto.ScryptOptions).N)).toEqual([
        1024, 1024, 1024, 1024, 1024,
      ]);
    } finally {
      scrypt.mockRestore();
    }
  });

  it('refuses stored parameters that would cost unbounded memory or time', async () => {
    const hasher = new PasswordHasher({ N: 2 ** 10, r: 8, p: 1 });
    const salt = randomBytes(16).toString('base64');
    for (const [N, r, p] of [
      [2 ** 24, 8, 1],
      [1000, 8, 1],
      [1024, 1000, 1],
      [1024, 8, 1000],
      [1024, 0, 1],
    ]) {
      expect(await hasher.verify('x', `scrypt$${N}$${r}$${p}$${salt}$${salt}`)).toBe(false);
    }
  });
});
