import type { Router } from 'express';
import { propertyCreateSchema, propertyPatchSchema, propertySettingsSchema } from '@parley/protocol/schemas';
import type { HttpAuth } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { exactRouter } from '../http/router';
import { parseInput } from '../validation';
import type { PropertyService } from './property-service';

export interface PropertyRoutesDeps {
  auth: HttpAuth;
  properties: PropertyService;
  /** Refuses deleting a property that a saved segment's filter still names (CONFLICT). */
  beforeDelete?: (projectId: string, key: string) => Promise<void>;
}

/**
 * Contact properties of `:projectId`. Every agent reads the definitions (consoles render values by
 * them); owners define, change and delete them, and set whether undefined keys are refused.
 */
export function propertyRoutes({ auth, properties, beforeDelete }: PropertyRoutesDeps): Router {
  const router = exactRouter();
  const base = '/projects/:projectId/properties';
  const settings = '/projects/:projectId/property-settings';
  router.use(base, auth.requireProjectAgent);
  router.use(settings, auth.requireProjectAgent);

  router.get(base, async (req, res) => {
    res.json(await properties.list(param(req, 'projectId')));
  });

  router.post(base, auth.requireOwner, async (req, res) => {
    const input = parseInput(propertyCreateSchema, bodyOf(req));
    res.status(201).json(await properties.create(param(req, 'projectId'), input));
  });

  router.get(`${base}/:propertyId`, async (req, res) => {
    res.json(await properties.get(param(req, 'projectId'), param(req, 'propertyId')));
  });

  router.patch(`${base}/:propertyId`, auth.requireOwner, async (req, res) => {
    const input = parseInput(propertyPatchSchema, bodyOf(req));
    res.json(await properties.update(param(req, 'projectId'), param(req, 'propertyId'), input));
  });

  router.delete(`${base}/:propertyId`, auth.requireOwner, async (req, res) => {
    const projectId = param(req, 'projectId');
    await properties.remove(
      projectId,
      param(req, 'propertyId'),
      beforeDelete ? (key) => beforeDelete(projectId, key) : undefined,
    );
    res.status(204).end();
  });

  router.put(settings, auth.requireOwner, async (req, res) => {
    const input = parseInput(propertySettingsSchema, bodyOf(req));
    res.json(await properties.setDefinedKeysOnly(param(req, 'projectId'), input.definedKeysOnly));
  });

  return router;
}
