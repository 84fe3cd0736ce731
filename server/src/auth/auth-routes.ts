import { randomUUID } from 'node:crypto';
import type { Request, Router } from 'express';
import type { AgentLoginResponse, MeResponse, VisitorAuthResponse, WidgetConfig } from '@parley/protocol';
import {
  agentLoginSchema,
  agentPasswordChangeSchema,
  anonymousAuthSchema,
  refreshSchema,
  verifiedAuthSchema,
} from '@parley/protocol/schemas';
import type { AgentService } from '../agents/agent-service';
import type { Config } from '../config';
import type { HttpAuth } from '../http/http-auth';
import { agentOf, principalOf } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { loginDelayMs, type RateLimits } from '../infra/rate-limits';
import type { LeadService } from '../leads/lead-service';
import type { ProjectService } from '../projects/project-service';
import { assertOriginAllowed } from '../realtime/origin-check';
import { parseInput } from '../validation';
import { verifyCustomerToken } from './customer-token';
import type { TokenService } from './token-service';
import { exactRouter } from '../http/router';

export interface AuthRoutesDeps {
  config: Config;
  auth: HttpAuth;
  tokens: TokenService;
  projects: ProjectService;
  agents: AgentService;
  leads: LeadService;
  rateLimits: RateLimits;
}

/** The client address as Express sees it (behind a proxy only when TRUST_PROXY says so). */
function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/** Sign-in for visitors (anonymous and verified) and agents, token refresh and `GET /me`. */
export function authRoutes(deps: AuthRoutesDeps): Router {
  const { config, auth, tokens, projects, agents, leads, rateLimits } = deps;
  const router = exactRouter();

  /** A project that exists and accepts this request's origin. */
  const visitorProject = async (req: Request) => {
    const project = await projects.getCached(param(req, 'projectId'));
    assertOriginAllowed(project.allowedOrigins, req.headers.origin);
    return project;
  };

  router.get('/projects/:projectId/widget', async (req, res) => {
    const project = await visitorProject(req);
    const body: WidgetConfig = { projectId: project.id, name: project.name, preChatForm: project.preChatForm };
    res.json(body);
  });

  router.post('/projects/:projectId/auth/anonymous', async (req, res) => {
    parseInput(anonymousAuthSchema, bodyOf(req));
    await rateLimits.anonymousSignIn.consume(clientAddress(req));
    const project = await visitorProject(req);
    // The server mints the visitor's identity; a client never chooses it.
    const userId = randomUUID();
    const issued = tokens.issueVisitor(project.id, userId);
    const body: VisitorAuthResponse = {
      token: issued.token,
      user: { id: userId, kind: 'anonymous' },
      expiresAt: issued.expiresAt.toISOString(),
    };
    res.status(201).json(body);
  });

  router.post('/projects/:projectId/auth/verified', async (req, res) => {
    const input = parseInput(verifiedAuthSchema, bodyOf(req));
    await rateLimits.anonymousSignIn.consume(clientAddress(req));
    const project = await visitorProject(req);
    const claims = verifyCustomerToken(
      input.token,
      await projects.activeSecrets(project.id),
      config.verifiedTokenMaxLifetimeSeconds,
    );
    const profile = {
      ...(claims.fullname !== undefined ? { fullname: claims.fullname } : {}),
      ...(claims.lastname !== undefined ? { lastname: claims.lastname } : {}),
      ...(claims.email !== undefined ? { email: claims.email } : {}),
      ...(claims.phone !== undefined ? { phone: claims.phone } : {}),
      ...(claims.attributes !== undefined ? { attributes: claims.attributes } : {}),
    };
    // Profile claims are written to the lead (creating it); without any, the lead waits for the
    // first conversation like an anonymous visitor's.
    if (Object.keys(profile).length > 0) {
      await leads.resolveForUser(project.id, claims.sub, 'verified', profile, 'customer');
    }
    const issued = tokens.issueVerified(project.id, claims.sub, new Date());
    const body: VisitorAuthResponse = {
      token: issued.token,
      user: { id: claims.sub, kind: 'verified' },
      expiresAt: issued.expiresAt.toISOString(),
    };
    res.status(201).json(body);
  });

  /**
   * `/auth/refresh` and `/me` answer any browser (CORS `*`, they are visitor paths), so the origin
   * is checked here against whom the token is for: the project's websites for a visitor, the
   * console's origins (CORS_ORIGINS) for an agent or the admin.
   */
  const assertTokenOrigin = async (req: Request, principal: ReturnType<typeof principalOf>) => {
    const allowed =
      principal.kind === 'visitor'
        ? (await projects.getCached(principal.projectId)).allowedOrigins
        : config.corsOrigins;
    assertOriginAllowed(allowed, req.headers.origin);
  };

  router.post('/auth/refresh', auth.requireAny, async (req, res) => {
    parseInput(refreshSchema, bodyOf(req));
    const principal = principalOf(res);
    await assertTokenOrigin(req, principal);
    if (principal.kind === 'visitor') {
      const issued = principal.verifiedAt
        ? tokens.issueVerified(principal.projectId, principal.userId, principal.verifiedAt)
        : tokens.issueVisitor(principal.projectId, principal.userId);
      const body: VisitorAuthResponse = {
        token: issued.token,
        user: { id: principal.userId, kind: principal.visitorKind },
        expiresAt: issued.expiresAt.toISOString(),
      };
      res.json(body);
      return;
    }
    const { agent, credentialVersion } = await agents.getForToken(agentOf(res));
    const issued = tokens.issueAgent(agent, credentialVersion);
    const body: AgentLoginResponse = { token: issued.token, agent, expiresAt: issued.expiresAt.toISOString() };
    res.json(body);
  });

  router.get('/me', auth.requireAny, async (req, res) => {
    const principal = principalOf(res);
    await assertTokenOrigin(req, principal);
    let body: MeResponse;
    if (principal.kind === 'visitor') {
      body = {
        kind: 'visitor',
        projectId: principal.projectId,
        user: { id: principal.userId, kind: principal.visitorKind },
        expiresAt: principal.expiresAt.toISOString(),
      };
    } else if (principal.kind === 'agent') {
      const { agent } = await agents.getForToken(principal);
      body = { kind: 'agent', agent, expiresAt: principal.expiresAt.toISOString() };
    } else {
      body = { kind: 'admin' };
    }
    res.json(body);
  });

  router.post('/agents/login', async (req, res) => {
    const input = parseInput(agentLoginSchema, bodyOf(req));
    // Refused beyond the allowance: one address guessing (any accounts), and one address guessing
    // one account. One account guessed from many addresses is only slowed down: refusing there
    // would let anyone lock an agent out, from anywhere, by failing on purpose. Each attempt
    // counts; a successful one is given back, so only failures use the allowance.
    const address = clientAddress(req);
    const refusing = [`ip:${address}`, `ip-email:${address}:${input.email}`];
    for (const key of refusing) await rateLimits.login.consume(key);
    const emailKey = `email:${input.email}`;
    const attempts = await rateLimits.loginPerEmail.count(emailKey);
    const delay = loginDelayMs(attempts, config.rateLimits.loginPerMinute);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const { agent, credentialVersion } = await agents.authenticate(input.email, input.password);
    await Promise.all([
      ...refusing.map((key) => rateLimits.login.refund(key)),
      rateLimits.loginPerEmail.refund(emailKey),
    ]);
    const issued = tokens.issueAgent(agent, credentialVersion);
    const body: AgentLoginResponse = { token: issued.token, agent, expiresAt: issued.expiresAt.toISOString() };
    res.json(body);
  });

  /**
   * An agent changes its own password with the current one. Every session of the agent is signed
   * out, on every node; this request gets a fresh token so that the console it came from goes on.
   * Wrong current passwords count against the login allowance of this address and account.
   */
  router.post('/agents/me/password', auth.requireAgent, async (req, res) => {
    const input = parseInput(agentPasswordChangeSchema, bodyOf(req));
    const principal = agentOf(res);
    const key = `ip-email:${clientAddress(req)}:agent:${principal.agentId}`;
    await rateLimits.login.consume(key);
    const { agent, credentialVersion } = await agents.changeOwnPassword(
      principal,
      input.currentPassword,
      input.newPassword,
    );
    await rateLimits.login.refund(key);
    const issued = tokens.issueAgent(agent, credentialVersion);
    const body: AgentLoginResponse = { token: issued.token, agent, expiresAt: issued.expiresAt.toISOString() };
    res.json(body);
  });

  return router;
}
