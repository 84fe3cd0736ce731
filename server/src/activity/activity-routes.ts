import type { Router } from 'express';
import { leadTimelineQuerySchema } from '@parley/protocol/schemas';
import type { HttpAuth } from '../http/http-auth';
import { param } from '../http/request-input';
import { exactRouter } from '../http/router';
import type { LeadTimeline } from '../leads/lead-timeline';
import { parseInput } from '../validation';
import type { LiveVisitors } from './live-visitors';

export interface ActivityRoutesDeps {
  auth: HttpAuth;
  timeline: LeadTimeline;
  live: LiveVisitors;
}

/**
 * A contact's timeline and the live visitors list (issue 15): read by any agent of the project,
 * like every other contact read (the admin token reads no contact data).
 */
export function activityRoutes({ auth, timeline, live }: ActivityRoutesDeps): Router {
  const router = exactRouter();
  router.get('/projects/:projectId/leads/:leadId/timeline', auth.requireProjectAgent, async (req, res) => {
    const query = parseInput(leadTimelineQuerySchema, req.query);
    res.json(await timeline.page(param(req, 'projectId'), param(req, 'leadId'), query));
  });
  router.get('/projects/:projectId/visitors/live', auth.requireProjectAgent, async (req, res) => {
    res.json(await live.list(param(req, 'projectId')));
  });
  return router;
}
