import { createHash, createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt, { type JwtPayload } from 'jsonwebtoken';
import type { Agent } from '@parley/protocol';
import type { JwtConfig } from '../config';
import { unauthorized } from '../errors';
import { Clock } from '../infra/clock';
import type { AgentPrincipal, VisitorPrincipal } from './principal';

export const VISITOR_AUDIENCE = 'parley:visitor';
export const AGENT_AUDIENCE = 'parley:agent';

/** A key id derived from the verification key, so rotating the key changes the kid by itself. */
function keyId(verifyKey: string): string {
  return createHash('sha256').update(verifyKey).digest('base64url').slice(0, 16);
}

/**
 * Keys are parsed once into KeyObjects. Given a string, jsonwebtoken parses it again on every
 * sign and verify, trying it as a PEM first and catching the failure: about 0.45 ms per call for an
 * HS256 secret against 0.01 ms with a KeyObject, which capped sign-ins and socket handshakes.
 */
function signingKeyObject(config: JwtConfig): KeyObject {
  return config.algorithm === 'HS256'
    ? createSecretKey(Buffer.from(config.signingKey))
    : createPrivateKey(config.signingKey);
}

function verifyKeyObject(algorithm: JwtConfig['algorithm'], key: string): KeyObject {
  return algorithm === 'HS256' ? createSecretKey(Buffer.from(key)) : createPublicKey(key);
}

export interface IssuedToken {
  token: string;
  expiresAt: Date;
}

/**
 * Parley's own tokens: visitors' and agents'. The algorithm, issuer and audience are pinned on
 * verification, so `alg: none`, an HS256 token forged with an RS256 public key, a token for another
 * audience or from another issuer are all refused. The `kid` header picks the verification key,
 * which lets an operator rotate JWT_SECRET while tokens signed with the previous one still verify.
 */
export class TokenService {
  private readonly currentKid: string;
  private readonly verifyKeys: Map<string, KeyObject>;
  private readonly signingKey: KeyObject;

  constructor(
    private readonly config: JwtConfig,
    /** Tokens are issued and judged on the cluster's clock: a node's own may have jumped. */
    private readonly clock: Clock = new Clock(),
  ) {
    this.currentKid = keyId(config.verifyKey);
    this.signingKey = signingKeyObject(config);
    this.verifyKeys = new Map([[this.currentKid, verifyKeyObject(config.algorithm, config.verifyKey)]]);
    for (const key of config.previousVerifyKeys)
      this.verifyKeys.set(keyId(key), verifyKeyObject(config.algorithm, key));
  }

  issueVisitor(projectId: string, userId: string): IssuedToken {
    return this.sign({ pid: projectId, vk: 'anonymous' }, userId, VISITOR_AUDIENCE, this.config.visitorTtlSeconds);
  }

  /**
   * A verified visitor's token. `verifiedAt` is when the customer's own token was checked: it
   * travels in the token (`vat`), so refreshes keep it, and no refresh reaches past
   * `verifiedAt + verifiedSessionMaxAge`. A user the customer logged out or deleted thus stops
   * being signed in here at the latest then, without the customer having to call us.
   */
  issueVerified(projectId: string, userId: string, verifiedAt: Date): IssuedToken {
    const vat = Math.floor(verifiedAt.getTime() / 1000);
    const now = this.clock.seconds();
    const sessionEnd = vat + this.config.verifiedSessionMaxAgeSeconds;
    const ttl = Math.min(this.config.verifiedVisitorTtlSeconds, sessionEnd - now);
    if (ttl <= 0)
      throw unauthorized('The verified session is over; sign in again with a fresh token from your backend');
    return this.sign({ pid: projectId, vk: 'verified', vat }, userId, VISITOR_AUDIENCE, ttl);
  }

  /**
   * `cv` is the agent's credential version: a password or role change raises it, and every check
   * of the token (handshake, REST, each socket command) compares it with the stored one.
   */
  issueAgent(agent: Agent, credentialVersion: number): IssuedToken {
    return this.sign(
      { pid: agent.projectId, role: agent.role, cv: credentialVersion },
      agent.id,
      AGENT_AUDIENCE,
      this.config.agentTtlSeconds,
    );
  }

  verifyVisitor(token: string): VisitorPrincipal {
    const claims = this.verify(token, VISITOR_AUDIENCE);
    const { sub, pid, vk, exp, iat, vat } = claims;
    if (typeof sub !== 'string' || typeof pid !== 'string' || (vk !== 'anonymous' && vk !== 'verified') || !exp) {
      throw unauthorized('Malformed token');
    }
    const principal: VisitorPrincipal = {
      kind: 'visitor',
      projectId: pid,
      userId: sub,
      visitorKind: vk,
      expiresAt: new Date(exp * 1000),
    };
    if (vk === 'verified') {
      // Tokens issued before `vat` existed count from their own issue time.
      const verifiedAt = typeof vat === 'number' ? vat : typeof iat === 'number' ? iat : undefined;
      if (verifiedAt === undefined) throw unauthorized('Malformed token');
      principal.verifiedAt = new Date(verifiedAt * 1000);
    }
    return principal;
  }

  verifyAgent(token: string): AgentPrincipal {
    const claims = this.verify(token, AGENT_AUDIENCE);
    const { sub, pid, role, exp, cv } = claims;
    if (typeof sub !== 'string' || typeof pid !== 'string' || (role !== 'owner' && role !== 'agent') || !exp) {
      throw unauthorized('Malformed token');
    }
    // Tokens from before `cv` existed stand for version 0, the version of agents stored before it.
    if (cv !== undefined && (typeof cv !== 'number' || !Number.isSafeInteger(cv) || cv < 0)) {
      throw unauthorized('Malformed token');
    }
    return {
      kind: 'agent',
      projectId: pid,
      agentId: sub,
      role,
      credentialVersion: typeof cv === 'number' ? cv : 0,
      expiresAt: new Date(exp * 1000),
    };
  }

  /** Either kind, for endpoints such as `GET /v1/me` and refresh. */
  verifyAny(token: string): VisitorPrincipal | AgentPrincipal {
    const audience = audienceOf(token);
    if (audience === AGENT_AUDIENCE) return this.verifyAgent(token);
    return this.verifyVisitor(token);
  }

  private sign(
    claims: Record<string, string | number>,
    subject: string,
    audience: string,
    ttlSeconds: number,
  ): IssuedToken {
    const now = this.clock.seconds();
    const exp = now + ttlSeconds;
    const token = jwt.sign({ ...claims, iat: now, exp }, this.signingKey, {
      algorithm: this.config.algorithm,
      keyid: this.currentKid,
      issuer: this.config.issuer,
      audience,
      subject,
    });
    return { token, expiresAt: new Date(exp * 1000) };
  }

  private verify(token: string, audience: string): JwtPayload {
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded.payload === 'string') throw unauthorized('Malformed token');
    const key = decoded.header.kid ? this.verifyKeys.get(decoded.header.kid) : undefined;
    if (!key) throw unauthorized('Token signed with an unknown key');
    try {
      const payload = jwt.verify(token, key, {
        algorithms: [this.config.algorithm],
        issuer: this.config.issuer,
        audience,
        // Our own tokens, on the clock every node shares: valid until `exp`, exactly when sockets
        // are closed. `iat` is not judged: it is only ever our own.
        clockTolerance: 0,
        clockTimestamp: this.clock.seconds(),
      });
      if (typeof payload === 'string') throw unauthorized('Malformed token');
      return payload;
    } catch (error) {
      if (error instanceof jwt.TokenExpiredError) throw unauthorized('Token expired');
      if (error instanceof jwt.JsonWebTokenError) throw unauthorized('Invalid token');
      throw error;
    }
  }
}

/** The unverified audience, only to choose which verification to run. */
function audienceOf(token: string): string | undefined {
  const payload = jwt.decode(token);
  if (!payload || typeof payload === 'string') return undefined;
  const aud = payload.aud;
  return Array.isArray(aud) ? aud[0] : aud;
}
