import type { Router } from 'express';
import { projectUpdateSchema } from '@parley/protocol/schemas';
import type { HttpAuth } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { exactRouter } from '../http/router';
import { parseInput } from '../validation';
import type { ProjectService } from './project-service';

export interface ProjectRoutesDeps {
  auth: HttpAuth;
  projects: ProjectService;
}

/** A project's settings, for its agents: every agent reads them, owners alone change them. */
export function projectRoutes({ auth, projects }: ProjectRoutesDeps): Router {
  const router = exactRouter();
  const path = '/projects/:projectId';

  router.get(path, auth.requireProjectAgent, async (req, res) => {
    res.json({ project: await projects.get(param(req, 'projectId')) });
  });

  router.patch(path, auth.requireProjectAgent, auth.requireOwner, async (req, res) => {
    const input = parseInput(projectUpdateSchema, bodyOf(req));
    res.json({ project: await projects.update(param(req, 'projectId'), input) });
  });

  return router;
}
