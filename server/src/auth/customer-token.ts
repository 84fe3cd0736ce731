import jwt from 'jsonwebtoken';
import type { VerifiedClaims } from '@parley/protocol';
import { verifiedClaimsSchema } from '@parley/protocol/schemas';
import { unauthorized } from '../errors';

/** Clock skew tolerated between the customer's servers and ours. */
const CLOCK_TOLERANCE_SECONDS = 30;

/**
 * Verifies a verified-visitor token that a customer's backend signed with its project secret.
 * HS256 only; `sub` and `exp` required; a lifetime longer than the server allows is refused, so a
 * leaked token is useless soon. `secrets` are the project's active secrets, current first: during a
 * rotation both the new and the previous secret verify.
 */
export function verifyCustomerToken(
  token: string,
  secrets: string[],
  maxLifetimeSeconds: number,
  /** Now, in seconds: the cluster's clock (see Clock). */
  now: number = Math.floor(Date.now() / 1000),
): VerifiedClaims {
  let payload: unknown;
  let lastError: unknown;
  for (const secret of secrets) {
    try {
      payload = jwt.verify(token, secret, {
        algorithms: ['HS256'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        clockTimestamp: now,
      });
      break;
    } catch (error) {
      lastError = error;
      // An expired (or not yet valid) token is so under every secret; a bad signature may verify
      // under the next one.
      if (error instanceof jwt.TokenExpiredError || error instanceof jwt.NotBeforeError) break;
    }
  }
  if (payload === undefined) {
    if (lastError instanceof jwt.TokenExpiredError) throw unauthorized('Verified token expired');
    if (lastError instanceof jwt.NotBeforeError) throw unauthorized('Verified token is not valid yet (nbf)');
    throw unauthorized("Verified token is not signed with this project's secret");
  }
  const parsed = verifiedClaimsSchema.safeParse(payload);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw unauthorized(`Verified token claims are invalid or missing: ${fields}`);
  }
  const claims = parsed.data;
  const issuedAt = claims.iat ?? now;
  if (claims.exp - issuedAt > maxLifetimeSeconds || claims.exp - now > maxLifetimeSeconds + CLOCK_TOLERANCE_SECONDS) {
    throw unauthorized(`Verified token lives longer than the allowed ${maxLifetimeSeconds} s`);
  }
  return claims;
}
