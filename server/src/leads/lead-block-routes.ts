import type { Router } from 'express';
import { agentOf, type HttpAuth } from '../http/http-auth';
import { param } from '../http/request-input';
import { exactRouter } from '../http/router';
import type { LeadBlock } from './lead-block';

export interface LeadBlockRoutesDeps {
  auth: HttpAuth;
  blocking: LeadBlock;
}

/**
 * Blocking contacts (issue 15): any agent of the project, like the other contact work; a block is
 * undone by an unblock, so it is not kept for owners. Neither takes a body.
 */
export function leadBlockRoutes({ auth, blocking }: LeadBlockRoutesDeps): Router {
  const router = exactRouter();
  const base = '/projects/:projectId/leads/:leadId';
  router.post(`${base}/block`, auth.requireProjectAgent, async (req, res) => {
    res.json(await blocking.block(param(req, 'projectId'), param(req, 'leadId'), agentOf(res).agentId));
  });
  router.post(`${base}/unblock`, auth.requireProjectAgent, async (req, res) => {
    res.json(await blocking.unblock(param(req, 'projectId'), param(req, 'leadId'), agentOf(res).agentId));
  });
  return router;
}
