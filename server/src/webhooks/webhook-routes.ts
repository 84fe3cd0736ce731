import type { Router } from 'express';
import type {
  WebhookCreatedResponse,
  WebhookDeliveryPage,
  WebhookDeliveryResponse,
  WebhookListResponse,
  WebhookResponse,
  WebhookSecretRotatedResponse,
} from '@parley/protocol';
import { webhookCreateSchema, webhookDeliveryListQuerySchema, webhookUpdateSchema } from '@parley/protocol/schemas';
import type { HttpAuth } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { exactRouter } from '../http/router';
import { parseInput } from '../validation';
import type { WebhookService } from './webhook-service';

export interface WebhookRoutesDeps {
  auth: HttpAuth;
  webhooks: WebhookService;
}

/** A project's webhooks: its owners configure them, and so does the admin token. */
export function webhookRoutes({ auth, webhooks }: WebhookRoutesDeps): Router {
  const router = exactRouter();
  const base = '/projects/:projectId/webhooks';
  const one = `${base}/:webhookId`;
  const ids = (req: Parameters<typeof param>[0]) => [param(req, 'projectId'), param(req, 'webhookId')] as const;

  router.post(base, auth.requireOwnerOrAdmin, async (req, res) => {
    const input = parseInput(webhookCreateSchema, bodyOf(req));
    const body: WebhookCreatedResponse = await webhooks.create(param(req, 'projectId'), input);
    res.status(201).json(body);
  });

  router.get(base, auth.requireOwnerOrAdmin, async (req, res) => {
    const body: WebhookListResponse = { items: await webhooks.list(param(req, 'projectId')) };
    res.json(body);
  });

  router.get(one, auth.requireOwnerOrAdmin, async (req, res) => {
    const body: WebhookResponse = { webhook: await webhooks.get(...ids(req)) };
    res.json(body);
  });

  router.patch(one, auth.requireOwnerOrAdmin, async (req, res) => {
    const input = parseInput(webhookUpdateSchema, bodyOf(req));
    const body: WebhookResponse = { webhook: await webhooks.update(...ids(req), input) };
    res.json(body);
  });

  router.delete(one, auth.requireOwnerOrAdmin, async (req, res) => {
    await webhooks.remove(...ids(req));
    res.status(204).end();
  });

  router.post(`${one}/secret/rotate`, auth.requireOwnerOrAdmin, async (req, res) => {
    const body: WebhookSecretRotatedResponse = await webhooks.rotateSecret(...ids(req));
    res.json(body);
  });

  router.post(`${one}/test`, auth.requireOwnerOrAdmin, async (req, res) => {
    const body: WebhookDeliveryResponse = { delivery: await webhooks.test(...ids(req)) };
    res.status(202).json(body);
  });

  router.get(`${one}/deliveries`, auth.requireOwnerOrAdmin, async (req, res) => {
    const query = parseInput(webhookDeliveryListQuerySchema, req.query);
    const body: WebhookDeliveryPage = await webhooks.deliveriesOf(...ids(req), query);
    res.json(body);
  });

  router.post(`${one}/deliveries/:deliveryId/redeliver`, auth.requireOwnerOrAdmin, async (req, res) => {
    const body: WebhookDeliveryResponse = {
      delivery: await webhooks.redeliver(...ids(req), param(req, 'deliveryId')),
    };
    res.status(202).json(body);
  });

  return router;
}
