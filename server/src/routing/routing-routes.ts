import type { Router } from 'express';
import type {
  AgentRoutingListResponse,
  AgentRoutingResponse,
  Page,
  Conversation,
  PresenceListResponse,
  RoutingSettingsResponse,
} from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import { agentRoutingUpdateSchema, queueQuerySchema, routingSettingsUpdateSchema } from '@parley/protocol/schemas';
import type { AgentService } from '../agents/agent-service';
import { toConversation } from '../conversations/conversation-view';
import type { HttpAuth } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { exactRouter } from '../http/router';
import type { PresenceService } from '../presence/presence-service';
import { parseInput } from '../validation';
import type { Queue } from './queue';
import type { RoutingService } from './routing-service';

export interface RoutingRoutesDeps {
  auth: HttpAuth;
  routing: RoutingService;
  queue: Queue;
  presence: PresenceService;
  agents: AgentService;
}

/** Routing settings and capacities (owners change them), presence and the queue (every agent). */
export function routingRoutes({ auth, routing, queue, presence, agents }: RoutingRoutesDeps): Router {
  const router = exactRouter();
  const project = '/projects/:projectId';
  // Each a prefix: `/routing` covers `/routing/agents…` too.
  for (const path of ['/routing', '/presence', '/queue']) {
    router.use(`${project}${path}`, auth.requireProjectAgent);
  }

  router.get(`${project}/routing`, async (req, res) => {
    const body: RoutingSettingsResponse = { routing: await routing.settings(param(req, 'projectId')) };
    res.json(body);
  });

  router.patch(`${project}/routing`, auth.requireOwner, async (req, res) => {
    const input = parseInput(routingSettingsUpdateSchema, bodyOf(req));
    const body: RoutingSettingsResponse = { routing: await routing.updateSettings(param(req, 'projectId'), input) };
    res.json(body);
  });

  router.get(`${project}/routing/agents`, async (req, res) => {
    const body: AgentRoutingListResponse = { items: await routing.agentsView(param(req, 'projectId')) };
    res.json(body);
  });

  router.patch(`${project}/routing/agents/:agentId`, auth.requireOwner, async (req, res) => {
    const { capacity } = parseInput(agentRoutingUpdateSchema, bodyOf(req));
    const body: AgentRoutingResponse = {
      agent: await routing.setCapacity(param(req, 'projectId'), param(req, 'agentId'), capacity),
    };
    res.json(body);
  });

  router.get(`${project}/presence`, async (req, res) => {
    const projectId = param(req, 'projectId');
    const ids = (await agents.listForProject(projectId)).map((a) => a.id);
    const body: PresenceListResponse = { items: await presence.list(projectId, ids) };
    res.json(body);
  });

  router.get(`${project}/queue`, async (req, res) => {
    const { teamId, page = 1, limit = LIMITS.pageLimitDefault } = parseInput(queueQuerySchema, req.query);
    const waiting = await queue.waiting(param(req, 'projectId'), teamId);
    const body: Page<Conversation> = {
      items: waiting.slice((page - 1) * limit, page * limit).map(toConversation),
      total: waiting.length,
      page,
      limit,
    };
    res.json(body);
  });

  return router;
}
