import type { Router } from 'express';
import type { RenderedTextResponse } from '@parley/protocol';
import {
  cannedResponseCreateSchema,
  cannedResponseListQuerySchema,
  cannedResponsePatchSchema,
  cannedResponseRenderSchema,
} from '@parley/protocol/schemas';
import { agentOf, type HttpAuth } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { exactRouter } from '../http/router';
import { parseInput } from '../validation';
import type { CannedResponseService } from './canned-response-service';

export interface CannedResponseRoutesDeps {
  auth: HttpAuth;
  responses: CannedResponseService;
}

/** Canned responses of `:projectId`: every agent of the project lists, searches, writes and renders them. */
export function cannedResponseRoutes({ auth, responses }: CannedResponseRoutesDeps): Router {
  const router = exactRouter();
  const base = '/projects/:projectId/canned-responses';
  router.use(base, auth.requireProjectAgent);

  router.get(base, async (req, res) => {
    const { q, page, limit } = parseInput(cannedResponseListQuerySchema, req.query);
    res.json(await responses.list(param(req, 'projectId'), q, page, limit));
  });

  router.post(base, async (req, res) => {
    const input = parseInput(cannedResponseCreateSchema, bodyOf(req));
    res.status(201).json(await responses.create(param(req, 'projectId'), input));
  });

  router.get(`${base}/:cannedResponseId`, async (req, res) => {
    res.json(await responses.get(param(req, 'projectId'), param(req, 'cannedResponseId')));
  });

  router.patch(`${base}/:cannedResponseId`, async (req, res) => {
    const input = parseInput(cannedResponsePatchSchema, bodyOf(req));
    res.json(await responses.update(param(req, 'projectId'), param(req, 'cannedResponseId'), input));
  });

  router.delete(`${base}/:cannedResponseId`, async (req, res) => {
    await responses.remove(param(req, 'projectId'), param(req, 'cannedResponseId'));
    res.status(204).end();
  });

  router.post(`${base}/:cannedResponseId/render`, async (req, res) => {
    const { conversationId } = parseInput(cannedResponseRenderSchema, bodyOf(req));
    const body: RenderedTextResponse = {
      text: await responses.render(
        param(req, 'projectId'),
        param(req, 'cannedResponseId'),
        conversationId,
        agentOf(res).agentId,
      ),
    };
    res.json(body);
  });

  return router;
}
