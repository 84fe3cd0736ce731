import type { Router } from 'express';
import type { LeadDetailResponse, LeadMergedResponse } from '@parley/protocol';
import {
  leadCreateSchema,
  leadExportQuerySchema,
  leadListQuerySchema,
  leadMergeSchema,
  leadPatchSchema,
} from '@parley/protocol/schemas';
import type { ConversationList } from '../conversations/conversation-list';
import { agentOf, type HttpAuth } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import type { Logger } from '../infra/logger';
import { parseInput } from '../validation';
import { streamCsv } from '../http/csv-stream';
import { contactsCsv } from './lead-csv';
import type { LeadErasure } from './lead-erasure';
import type { LeadMerge } from './lead-merge';
import type { LeadSearch } from './lead-search';
import type { LeadService } from './lead-service';
import { exactRouter } from '../http/router';

export interface LeadRoutesDeps {
  auth: HttpAuth;
  logger: Logger;
  leads: LeadService;
  search: LeadSearch;
  merge: LeadMerge;
  erasure: LeadErasure;
  conversations: ConversationList;
  /** Keys of the project's properties: a CSV column each. */
  propertyKeys?: (projectId: string) => Promise<string[]>;
}

/**
 * Contacts for agents. Every route takes an agent token whose project is `:projectId`; what cannot
 * be undone or takes every contact at once (erasure, export) is for owners alone.
 */
export function leadRoutes({
  auth,
  logger,
  leads,
  search,
  merge,
  erasure,
  conversations,
  propertyKeys,
}: LeadRoutesDeps): Router {
  const router = exactRouter();
  const base = '/projects/:projectId/leads';
  router.use(base, auth.requireProjectAgent);

  router.get(base, async (req, res) => {
    const query = parseInput(leadListQuerySchema, req.query);
    res.json(await search.list(param(req, 'projectId'), query, query.page, query.limit));
  });

  // Before `/:leadId`, which would otherwise take "export.csv" for an id. Owners only: it is every
  // contact's personal data at once.
  router.get(`${base}/export.csv`, auth.requireOwner, async (req, res) => {
    const query = parseInput(leadExportQuerySchema, req.query);
    const keys = propertyKeys ? await propertyKeys(param(req, 'projectId')) : [];
    await streamCsv(res, logger, contactsCsv(keys, search.cursor(param(req, 'projectId'), query)));
  });

  router.post(base, async (req, res) => {
    const input = parseInput(leadCreateSchema, bodyOf(req));
    res.status(201).json(await leads.createManual(param(req, 'projectId'), input));
  });

  router.get(`${base}/:leadId`, async (req, res) => {
    const lead = await leads.get(param(req, 'projectId'), param(req, 'leadId'));
    const body: LeadDetailResponse = {
      lead,
      conversations: await conversations.ofLead(lead.projectId, agentOf(res).agentId, lead.id),
    };
    res.json(body);
  });

  router.patch(`${base}/:leadId`, async (req, res) => {
    const input = parseInput(leadPatchSchema, bodyOf(req));
    res.json(await leads.update(param(req, 'projectId'), param(req, 'leadId'), input, agentOf(res).agentId));
  });

  router.post(`${base}/:leadId/merge`, async (req, res) => {
    const input = parseInput(leadMergeSchema, bodyOf(req));
    const body: LeadMergedResponse = {
      lead: await merge.merge(param(req, 'projectId'), param(req, 'leadId'), input.sourceLeadIds, {
        type: 'agent',
        id: agentOf(res).agentId,
      }),
    };
    res.json(body);
  });

  // Owners only: an erasure cannot be undone.
  router.delete(`${base}/:leadId`, auth.requireOwner, async (req, res) => {
    await erasure.erase(param(req, 'projectId'), param(req, 'leadId'));
    res.status(204).end();
  });

  return router;
}
