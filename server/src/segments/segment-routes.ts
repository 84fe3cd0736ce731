import type { Router } from 'express';
import { segmentCreateSchema, segmentLeadsQuerySchema, segmentPatchSchema } from '@parley/protocol/schemas';
import type { HttpAuth } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { exactRouter } from '../http/router';
import { parseInput } from '../validation';
import type { SegmentService } from './segment-service';

export interface SegmentRoutesDeps {
  auth: HttpAuth;
  segments: SegmentService;
}

/** Segments of `:projectId`: every agent of the project saves, changes and lists them. */
export function segmentRoutes({ auth, segments }: SegmentRoutesDeps): Router {
  const router = exactRouter();
  const base = '/projects/:projectId/segments';
  router.use(base, auth.requireProjectAgent);

  router.get(base, async (req, res) => {
    res.json(await segments.list(param(req, 'projectId')));
  });

  router.post(base, async (req, res) => {
    const input = parseInput(segmentCreateSchema, bodyOf(req));
    res.status(201).json(await segments.create(param(req, 'projectId'), input));
  });

  router.get(`${base}/:segmentId`, async (req, res) => {
    res.json(await segments.get(param(req, 'projectId'), param(req, 'segmentId')));
  });

  router.patch(`${base}/:segmentId`, async (req, res) => {
    const input = parseInput(segmentPatchSchema, bodyOf(req));
    res.json(await segments.update(param(req, 'projectId'), param(req, 'segmentId'), input));
  });

  router.delete(`${base}/:segmentId`, async (req, res) => {
    await segments.remove(param(req, 'projectId'), param(req, 'segmentId'));
    res.status(204).end();
  });

  router.get(`${base}/:segmentId/leads`, async (req, res) => {
    const query = parseInput(segmentLeadsQuerySchema, req.query);
    res.json(await segments.leads(param(req, 'projectId'), param(req, 'segmentId'), query));
  });

  return router;
}
