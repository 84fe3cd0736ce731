import type { Router } from 'express';
import type { LeadFilterNode } from '@parley/protocol';
import { leadBulkSchema, leadFilterExportSchema, leadSearchSchema } from '@parley/protocol/schemas';
import { agentOf, type HttpAuth } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { exactRouter } from '../http/router';
import type { Logger } from '../infra/logger';
import { parseInput } from '../validation';
import { streamCsv } from '../http/csv-stream';
import { contactsCsv } from './lead-csv';
import type { LeadBulk } from './lead-bulk';
import type { LeadFilterSearch } from './lead-filter-search';

export interface LeadFilterRoutesDeps {
  auth: HttpAuth;
  logger: Logger;
  search: LeadFilterSearch;
  bulk: LeadBulk;
  propertyKeys: (projectId: string) => Promise<string[]>;
}

/** Contacts by filter tree: search for every agent; the export of every match for owners. */
export function leadFilterRoutes({ auth, logger, search, bulk, propertyKeys }: LeadFilterRoutesDeps): Router {
  const router = exactRouter();
  const base = '/projects/:projectId/leads';
  router.use(`${base}/search`, auth.requireProjectAgent);
  router.use(`${base}/export.csv`, auth.requireProjectAgent);
  router.use(`${base}/bulk`, auth.requireProjectAgent);

  router.post(`${base}/search`, async (req, res) => {
    const input = parseInput(leadSearchSchema, bodyOf(req));
    res.json(await search.search(param(req, 'projectId'), input));
  });

  // Owners only, like the GET export: it is every matching contact's personal data at once. The
  // filter is checked (and may be refused) before any byte of the CSV is sent.
  router.post(`${base}/export.csv`, auth.requireOwner, async (req, res) => {
    const input = parseInput(leadFilterExportSchema, bodyOf(req));
    const projectId = param(req, 'projectId');
    const query = await search.query(projectId, { filter: input.filter as LeadFilterNode | undefined, q: input.q });
    const keys = await propertyKeys(projectId);
    await streamCsv(res, logger, contactsCsv(keys, search.cursor(query)));
  });

  // Owners only: it changes (or erases) every matching contact at once. Answers when done, with
  // the summary that `lead.bulk.completed` also carries.
  router.post(`${base}/bulk`, auth.requireOwner, async (req, res) => {
    const input = parseInput(leadBulkSchema, bodyOf(req));
    res.json(
      await bulk.run(param(req, 'projectId'), { filter: input.filter, q: input.q }, input.action, {
        type: 'agent',
        id: agentOf(res).agentId,
      }),
    );
  });

  return router;
}
