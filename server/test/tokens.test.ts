import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { JwtConfig } from '../src/config';
import { AppError } from '../src/errors';
import { TokenService } from '../src/auth/token-service';
import { verifyCustomerToken } from '../src/auth/customer-token';

const hs: JwtConfig = {
  algorithm: 'HS256',
  signingKey: 'unit-test-secret-0123456789abcdef',
  verifyKey: 'unit-test-secret-0123456789abcdef',
  previousVerifyKeys: [],
  issuer: 'parley',
  visitorTtlSeconds: 3600,
  verifiedVisitorTtlSeconds: 1800,
  verifiedSessionMaxAgeSeconds: 7200,
  agentTtlSeconds: 600,
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof AppError ? error.code : 'not an AppError';
  }
  return undefined;
}

describe('Parley tokens', () => {
  const tokens = new TokenService(hs);

  it('round-trips a visitor token with pinned claims', () => {
    const { token, expiresAt } = tokens.issueVisitor('p1', 'u1');
    const header = jwt.decode(token, { complete: true });
    expect(header?.header).toMatchObject({ alg: 'HS256', typ: 'JWT' });
    expect(header?.header.kid).toBeTruthy();
    expect(header?.payload).toMatchObject({ sub: 'u1', pid: 'p1', iss: 'parley', aud: 'parley:visitor' });
    const principal = tokens.verifyVisitor(token);
    expect(principal).toMatchObject({ kind: 'visitor', projectId: 'p1', userId: 'u1', visitorKind: 'anonymous' });
    expect(principal.expiresAt.getTime()).toBe(expiresAt.getTime());
  });

  it('refuses alg none, a wrong audience, a wrong issuer, a forged signature and an expired token', () => {
    const { token } = tokens.issueVisitor('p1', 'u1');
    const [h, p] = token.split('.');
    const header = JSON.parse(Buffer.from(h ?? '', 'base64url').toString()) as Record<string, unknown>;
    const none = `${Buffer.from(JSON.stringify({ ...header, alg: 'none' })).toString('base64url')}.${p}.`;
    expect(codeOf(() => tokens.verifyVisitor(none))).toBe('UNAUTHORIZED');

    const agentToken = tokens.issueAgent(
      {
        id: 'a1',
        projectId: 'p1',
        email: 'a@b.c',
        name: 'A',
        role: 'agent',
        createdAt: '',
      },
      0,
    );
    expect(codeOf(() => tokens.verifyVisitor(agentToken.token))).toBe('UNAUTHORIZED');
    expect(codeOf(() => tokens.verifyAgent(token))).toBe('UNAUTHORIZED');

    const kid = String(header['kid']);
    const otherIssuer = jwt.sign({ pid: 'p1', vk: 'anonymous' }, hs.signingKey, {
      algorithm: 'HS256',
      keyid: kid,
      issuer: 'someone-else',
      audience: 'parley:visitor',
      subject: 'u1',
      expiresIn: 60,
    });
    expect(codeOf(() => tokens.verifyVisitor(otherIssuer))).toBe('UNAUTHORIZED');

    const forged = jwt.sign({ pid: 'p1', vk: 'anonymous' }, 'another-secret-of-enough-length!!', {
      algorithm: 'HS256',
      keyid: kid,
      issuer: 'parley',
      audience: 'parley:visitor',
      subject: 'u1',
      expiresIn: 60,
    });
    expect(codeOf(() => tokens.verifyVisitor(forged))).toBe('UNAUTHORIZED');

    const expired = jwt.sign({ pid: 'p1', vk: 'anonymous', exp: Math.floor(Date.now() / 1000) - 60 }, hs.signingKey, {
      algorithm: 'HS256',
      keyid: kid,
      issuer: 'parley',
      audience: 'parley:visitor',
      subject: 'u1',
    });
    expect(codeOf(() => tokens.verifyVisitor(expired))).toBe('UNAUTHORIZED');
    expect(codeOf(() => tokens.verifyVisitor('garbage'))).toBe('UNAUTHORIZED');
  });

  it('gives verified visitors shorter tokens that no refresh carries past the session age', () => {
    const signedIn = new Date();
    const first = tokens.issueVerified('p1', 'cust-1', signedIn);
    const principal = tokens.verifyVisitor(first.token);
    expect(principal).toMatchObject({ visitorKind: 'verified', userId: 'cust-1' });
    const claims = jwt.decode(first.token) as { iat: number; exp: number };
    expect(claims.exp - claims.iat).toBe(1800);
    expect(Math.floor((principal.verifiedAt?.getTime() ?? 0) / 1000)).toBe(Math.floor(signedIn.getTime() / 1000));

    // A refresh late in the session keeps the sign-in time and ends with the session.
    const lateSignIn = new Date(Date.now() - 6600_000);
    const late = tokens.issueVerified('p1', 'cust-1', lateSignIn);
    const lateClaims = jwt.decode(late.token) as { vat: number; exp: number };
    expect(lateClaims.exp - lateClaims.vat).toBe(7200);
    expect(lateClaims.vat).toBe(Math.floor(lateSignIn.getTime() / 1000));
    expect(tokens.verifyVisitor(late.token).verifiedAt?.getTime()).toBe(Math.floor(lateSignIn.getTime() / 1000) * 1000);
    // Past it, only a fresh customer token signs the user in again.
    expect(codeOf(() => tokens.issueVerified('p1', 'cust-1', new Date(Date.now() - 7300_000)))).toBe('UNAUTHORIZED');
  });

  it('verifies tokens of the previous key after a rotation, and signs with the new one', () => {
    const old = new TokenService(hs);
    const { token } = old.issueVerified('p1', 'u1', new Date());
    const rotated = new TokenService({
      ...hs,
      signingKey: 'the-new-secret-0123456789abcdefgh',
      verifyKey: 'the-new-secret-0123456789abcdefgh',
      previousVerifyKeys: [hs.verifyKey],
    });
    expect(rotated.verifyVisitor(token).userId).toBe('u1');
    const fresh = rotated.issueVerified('p1', 'u1', new Date()).token;
    expect(codeOf(() => old.verifyVisitor(fresh))).toBe('UNAUTHORIZED');
  });

  it('works with ES256 and refuses an HS256 token made with the public key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const es = new TokenService({
      ...hs,
      algorithm: 'ES256',
      signingKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      verifyKey: pub,
    });
    const { token } = es.issueAgent(
      {
        id: 'a1',
        projectId: 'p1',
        email: 'a@b.c',
        name: 'A',
        role: 'owner',
        createdAt: '',
      },
      3,
    );
    expect(es.verifyAgent(token)).toMatchObject({ agentId: 'a1', role: 'owner', credentialVersion: 3 });
    const kid = String(jwt.decode(token, { complete: true })?.header.kid);
    // The classic key-confusion attack: sign HS256 with the public key as the HMAC secret.
    const confused = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid })).toString('base64url')}.${token.split('.')[1]}.x`;
    expect(codeOf(() => es.verifyAgent(confused))).toBe('UNAUTHORIZED');
  });
});

describe('customer (verified-visitor) tokens', () => {
  const secret = 'ps_customer-secret-0123456789abcdef';
  const now = () => Math.floor(Date.now() / 1000);

  it('accepts sub + exp signed with an active secret and returns profile claims', () => {
    const token = jwt.sign(
      { sub: 'user-42', email: ' Ada@Acme.TEST', fullname: 'Ada Lovelace', exp: now() + 600 },
      secret,
    );
    expect(verifyCustomerToken(token, [secret], 3600)).toMatchObject({
      sub: 'user-42',
      email: 'ada@acme.test',
      fullname: 'Ada Lovelace',
    });
    expect(verifyCustomerToken(token, ['ps_newer-secret-0123456789abcdefgh', secret], 3600).sub).toBe('user-42');
  });

  it.each([
    ['without exp', () => jwt.sign({ sub: 'u' }, secret)],
    ['without sub', () => jwt.sign({ exp: now() + 60 }, secret)],
    ['signed with another secret', () => jwt.sign({ sub: 'u', exp: now() + 60 }, 'ps_other-project-secret-0123456789')],
    ['expired', () => jwt.sign({ sub: 'u', exp: now() - 120 }, secret)],
    ['living too long', () => jwt.sign({ sub: 'u', exp: now() + 7200 }, secret)],
    ['with a long iat-to-exp lifetime', () => jwt.sign({ sub: 'u', iat: now() - 7000, exp: now() + 60 }, secret)],
    [
      'with alg none',
      () =>
        `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'u', exp: now() + 60 })).toString('base64url')}.`,
    ],
  ])('refuses a token %s', (_name, make) => {
    expect(codeOf(() => verifyCustomerToken(make(), [secret], 3600))).toBe('UNAUTHORIZED');
  });
});
