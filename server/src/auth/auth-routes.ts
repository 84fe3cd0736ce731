import type { Request, Router } from 'express';
import {
  agentLoginSchema,
  agentPasswordChangeSchema,
  anonymousAuthSchema,
  refreshSchema,
  verifiedAuthSchema,
} from '@parley/protocol/schemas';
import type { HttpAuth } from '../http/http-auth';
import { agentOf, principalOf } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { parseInput } from '../validation';
import type { AuthService, ClientContext } from './auth-service';
import { exactRouter } from '../http/router';

export interface AuthRoutesDeps {
  auth: HttpAuth;
  authService: AuthService;
}

/** The client address as Express sees it (behind a proxy only when TRUST_PROXY says so). */
function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

function clientOf(req: Request): ClientContext {
  return { address: clientAddress(req), origin: req.headers.origin };
}

/** Sign-in for visitors (anonymous and verified) and agents, token refresh and `GET /me`. */
export function authRoutes({ auth, authService }: AuthRoutesDeps): Router {
  const router = exactRouter();

  router.get('/projects/:projectId/widget', async (req, res) => {
    res.json(await authService.widgetConfig(param(req, 'projectId'), req.headers.origin));
  });

  router.post('/projects/:projectId/auth/anonymous', async (req, res) => {
    parseInput(anonymousAuthSchema, bodyOf(req));
    res.status(201).json(await authService.signInAnonymous(param(req, 'projectId'), clientOf(req)));
  });

  router.post('/projects/:projectId/auth/verified', async (req, res) => {
    const input = parseInput(verifiedAuthSchema, bodyOf(req));
    res.status(201).json(await authService.signInVerified(param(req, 'projectId'), input.token, clientOf(req)));
  });

  router.post('/auth/refresh', auth.requireAny, async (req, res) => {
    parseInput(refreshSchema, bodyOf(req));
    res.json(await authService.refresh(principalOf(res), req.headers.origin));
  });

  router.get('/me', auth.requireAny, async (req, res) => {
    res.json(await authService.me(principalOf(res), req.headers.origin));
  });

  router.post('/agents/login', async (req, res) => {
    const input = parseInput(agentLoginSchema, bodyOf(req));
    res.json(await authService.agentLogin(input.email, input.password, clientOf(req)));
  });

  /** Signs out every other session of the agent; this request gets a fresh token (see the service). */
  router.post('/agents/me/password', auth.requireAgent, async (req, res) => {
    const input = parseInput(agentPasswordChangeSchema, bodyOf(req));
    res.json(
      await authService.changeOwnPassword(agentOf(res), input.currentPassword, input.newPassword, clientOf(req)),
    );
  });

  return router;
}
