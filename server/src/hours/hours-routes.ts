import type { Router } from 'express';
import type { BusinessHoursResponse } from '@parley/protocol';
import { businessHoursSchema } from '@parley/protocol/schemas';
import type { HttpAuth } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { exactRouter } from '../http/router';
import { parseInput } from '../validation';
import type { BusinessHoursService } from './business-hours-service';

export interface HoursRoutesDeps {
  auth: HttpAuth;
  hours: BusinessHoursService;
}

/** Business hours and the away settings: every agent reads them, owners replace them. */
export function hoursRoutes({ auth, hours }: HoursRoutesDeps): Router {
  const router = exactRouter();
  const path = '/projects/:projectId/business-hours';
  router.use(path, auth.requireProjectAgent);

  router.get(path, async (req, res) => {
    const body: BusinessHoursResponse = { businessHours: await hours.get(param(req, 'projectId')) };
    res.json(body);
  });

  router.put(path, auth.requireOwner, async (req, res) => {
    const input = parseInput(businessHoursSchema, bodyOf(req));
    const body: BusinessHoursResponse = { businessHours: await hours.replace(param(req, 'projectId'), input) };
    res.json(body);
  });

  return router;
}
