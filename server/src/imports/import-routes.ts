import type { Router } from 'express';
import type { LeadImportResponse } from '@parley/protocol';
import { leadImportQuerySchema } from '@parley/protocol/schemas';
import { AppError } from '../errors';
import { agentOf, type HttpAuth } from '../http/http-auth';
import { streamCsv } from '../http/csv-stream';
import { param } from '../http/request-input';
import { exactRouter } from '../http/router';
import type { Logger } from '../infra/logger';
import { parseInput } from '../validation';
import { csvCell } from '../leads/lead-csv';
import type { ImportService } from './import-service';

export interface ImportRoutesDeps {
  auth: HttpAuth;
  logger: Logger;
  imports: ImportService;
}

/** Contact imports: owners only (an import writes many contacts at once). */
export function importRoutes({ auth, logger, imports }: ImportRoutesDeps): Router {
  const router = exactRouter();
  const base = '/projects/:projectId/leads/imports';
  router.use(base, auth.requireProjectAgent, auth.requireOwner);

  router.post(base, async (req, res) => {
    const query = parseInput(leadImportQuerySchema, req.query);
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'text/csv')
      throw new AppError('BAD_REQUEST', 'The body must be the CSV file, sent as Content-Type: text/csv');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > 50 * 1024 * 1024) throw new AppError('PAYLOAD_TOO_LARGE', 'The file is larger than 50 MB');
    const job = await imports.create(param(req, 'projectId'), agentOf(res).agentId, query, req);
    const body: LeadImportResponse = { import: job };
    res.status(202).json(body);
  });

  router.get(`${base}/:importId`, async (req, res) => {
    const body: LeadImportResponse = { import: await imports.get(param(req, 'projectId'), param(req, 'importId')) };
    res.json(body);
  });

  router.get(`${base}/:importId/errors.csv`, async (req, res) => {
    const cursor = await imports.errors(param(req, 'projectId'), param(req, 'importId'));
    await streamCsv(res, logger, {
      filename: 'import-errors.csv',
      header: 'line,column,message\r\n',
      cursor,
      row: (e) => `${e.line},${csvCell(e.column)},${csvCell(e.message)}\r\n`,
      what: 'import errors export',
    });
  });

  return router;
}
