import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { AgentPrincipal, Principal, VisitorPrincipal } from '../auth/principal';
import type { AgentService } from '../agents/agent-service';
import type { TokenService } from '../auth/token-service';
import { AppError, forbidden, unauthorized } from '../errors';

export function bearerToken(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer[ ]+([^\s]+)$/i.exec(header.trim());
  return match?.[1];
}

/** Compares digests so that neither the length nor the content of the admin token leaks by timing. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function principalOf(res: Response): Principal {
  const principal = (res.locals as { principal?: Principal }).principal;
  if (!principal) throw unauthorized();
  return principal;
}

export function agentOf(res: Response): AgentPrincipal {
  const principal = principalOf(res);
  if (principal.kind !== 'agent') throw forbidden();
  return principal;
}

export function visitorOf(res: Response): VisitorPrincipal {
  const principal = principalOf(res);
  if (principal.kind !== 'visitor') throw forbidden();
  return principal;
}

function requireToken(req: Request): string {
  const token = bearerToken(req);
  if (!token) throw unauthorized('Missing bearer token');
  return token;
}

/**
 * Authentication middleware. The project a request may touch is decided by the token; a project id
 * in the path only has to agree with it (else 403).
 */
export class HttpAuth {
  constructor(
    private readonly tokens: TokenService,
    private readonly agents: AgentService,
    private readonly adminToken: string | undefined,
  ) {}

  readonly requireAdmin: RequestHandler = (req, res, next) => {
    if (!this.adminToken) throw new AppError('FORBIDDEN', 'The admin API is disabled: set ADMIN_TOKEN to enable it');
    const token = requireToken(req);
    if (!sameSecret(token, this.adminToken)) throw unauthorized('Invalid admin token');
    (res.locals as { principal?: Principal }).principal = { kind: 'admin' };
    next();
  };

  /**
   * An agent token whose project is the `:projectId` of the path, of an agent that still exists and
   * whose credentials did not change since the token was issued, checked against the shared
   * standing on every request (see AgentService.authorize). The principal's role is the stored one.
   */
  readonly requireProjectAgent: RequestHandler = async (req, res, next) => {
    const principal = this.verifyAny(requireToken(req));
    if (principal.kind !== 'agent') throw forbidden('Only agents may use this endpoint');
    const projectId = req.params['projectId'];
    if (projectId !== undefined && projectId !== principal.projectId) {
      throw forbidden('This token may not access this project');
    }
    const standing = await this.agents.authorize(principal);
    (res.locals as { principal?: Principal }).principal = { ...principal, role: standing.role };
    next();
  };

  /** After `requireProjectAgent`: owners only (settings, agents, erasure, export). */
  readonly requireOwner: RequestHandler = (_req, res, next) => {
    if (agentOf(res).role !== 'owner') throw forbidden('Only owners of the project may do this');
    next();
  };

  /**
   * The admin token, or an owner of the path's project (an agent token checked as by
   * `requireProjectAgent`, then its stored role).
   */
  readonly requireOwnerOrAdmin: RequestHandler = async (req, res, next) => {
    const token = requireToken(req);
    if (this.adminToken && sameSecret(token, this.adminToken)) {
      (res.locals as { principal?: Principal }).principal = { kind: 'admin' };
      next();
      return;
    }
    const principal = this.verifyAny(token);
    if (principal.kind !== 'agent') throw forbidden('Only owners of the project or the admin token may do this');
    const projectId = req.params['projectId'];
    if (projectId !== undefined && projectId !== principal.projectId) {
      throw forbidden('This token may not access this project');
    }
    const standing = await this.agents.authorize(principal);
    if (standing.role !== 'owner') throw forbidden('Only owners of the project may do this');
    (res.locals as { principal?: Principal }).principal = { ...principal, role: standing.role };
    next();
  };

  /** Any agent token of an agent in good standing, whatever the path (the agent's own account). */
  readonly requireAgent: RequestHandler = async (req, res, next) => {
    const principal = this.verifyAny(requireToken(req));
    if (principal.kind !== 'agent') throw forbidden('Only agents may use this endpoint');
    const standing = await this.agents.authorize(principal);
    (res.locals as { principal?: Principal }).principal = { ...principal, role: standing.role };
    next();
  };

  readonly requireVisitor: RequestHandler = (req, res, next) => {
    const principal = this.verifyAny(requireToken(req));
    if (principal.kind !== 'visitor') throw forbidden('Only visitor tokens may use this endpoint');
    (res.locals as { principal?: Principal }).principal = principal;
    next();
  };

  /** Any Parley token (visitor or agent), or the admin token. */
  readonly requireAny: RequestHandler = async (req, res, next) => {
    const token = requireToken(req);
    let principal: Principal =
      this.adminToken && sameSecret(token, this.adminToken) ? { kind: 'admin' } : this.verifyAny(token);
    // An agent's token is only as good as the agent's standing, here too (refresh must not renew a
    // token that a removal or a password change has signed out).
    if (principal.kind === 'agent') principal = { ...principal, role: (await this.agents.authorize(principal)).role };
    (res.locals as { principal?: Principal }).principal = principal;
    next();
  };

  private verifyAny(token: string): VisitorPrincipal | AgentPrincipal {
    return this.tokens.verifyAny(token);
  }
}
