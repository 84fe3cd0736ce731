import type { Router } from 'express';
import type { TeamListResponse, TeamResponse } from '@parley/protocol';
import { teamCreateSchema, teamUpdateSchema } from '@parley/protocol/schemas';
import type { HttpAuth } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { exactRouter } from '../http/router';
import { parseInput } from '../validation';
import type { TeamService } from './team-service';

export interface TeamRoutesDeps {
  auth: HttpAuth;
  teams: TeamService;
}

/** A project's teams: every agent reads them, owners change them. */
export function teamRoutes({ auth, teams }: TeamRoutesDeps): Router {
  const router = exactRouter();
  const base = '/projects/:projectId/teams';
  router.use(base, auth.requireProjectAgent);

  router.get(base, async (req, res) => {
    const body: TeamListResponse = { items: await teams.list(param(req, 'projectId')) };
    res.json(body);
  });

  router.post(base, auth.requireOwner, async (req, res) => {
    const input = parseInput(teamCreateSchema, bodyOf(req));
    const body: TeamResponse = { team: await teams.create(param(req, 'projectId'), input) };
    res.status(201).json(body);
  });

  router.get(`${base}/:teamId`, async (req, res) => {
    const body: TeamResponse = { team: await teams.get(param(req, 'projectId'), param(req, 'teamId')) };
    res.json(body);
  });

  router.patch(`${base}/:teamId`, auth.requireOwner, async (req, res) => {
    const input = parseInput(teamUpdateSchema, bodyOf(req));
    const body: TeamResponse = { team: await teams.update(param(req, 'projectId'), param(req, 'teamId'), input) };
    res.json(body);
  });

  router.delete(`${base}/:teamId`, auth.requireOwner, async (req, res) => {
    await teams.remove(param(req, 'projectId'), param(req, 'teamId'));
    res.status(204).end();
  });

  return router;
}
