import type { Router } from 'express';
import type { AgentResponse } from '@parley/protocol';
import { agentPasswordResetSchema, agentUpdateSchema } from '@parley/protocol/schemas';
import type { HttpAuth } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { exactRouter } from '../http/router';
import { parseInput } from '../validation';
import type { AgentService } from './agent-service';

export interface AgentRoutesDeps {
  auth: HttpAuth;
  agents: AgentService;
}

/**
 * A project's team, for its agents: everyone sees who is on it; owners change roles, reset
 * passwords and remove agents (each of which signs the agent out everywhere).
 */
export function agentRoutes({ auth, agents }: AgentRoutesDeps): Router {
  const router = exactRouter();
  const base = '/projects/:projectId/agents';
  router.use(base, auth.requireProjectAgent);

  router.get(base, async (req, res) => {
    res.json({ items: await agents.listForProject(param(req, 'projectId')) });
  });

  router.patch(`${base}/:agentId`, auth.requireOwner, async (req, res) => {
    const input = parseInput(agentUpdateSchema, bodyOf(req));
    const body: AgentResponse = { agent: await agents.update(param(req, 'projectId'), param(req, 'agentId'), input) };
    res.json(body);
  });

  router.post(`${base}/:agentId/password`, auth.requireOwner, async (req, res) => {
    const input = parseInput(agentPasswordResetSchema, bodyOf(req));
    const body: AgentResponse = {
      agent: await agents.setPassword(param(req, 'projectId'), param(req, 'agentId'), input.password),
    };
    res.json(body);
  });

  router.delete(`${base}/:agentId`, auth.requireOwner, async (req, res) => {
    await agents.remove(param(req, 'projectId'), param(req, 'agentId'));
    res.status(204).end();
  });

  return router;
}
