import type { Router } from 'express';
import type { LeadNoteResponse } from '@parley/protocol';
import { leadNoteCreateSchema, leadNoteListQuerySchema, leadNotePatchSchema } from '@parley/protocol/schemas';
import { agentOf, type HttpAuth } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { exactRouter } from '../http/router';
import { parseInput } from '../validation';
import type { NoteService } from './note-service';

export interface NoteRoutesDeps {
  auth: HttpAuth;
  notes: NoteService;
}

/**
 * Notes on a contact (issue 15): any agent of the project reads and adds them; its author or an
 * owner edits or deletes one (`403` for another agent).
 */
export function noteRoutes({ auth, notes }: NoteRoutesDeps): Router {
  const router = exactRouter();
  const base = '/projects/:projectId/leads/:leadId/notes';
  const editor = (res: Parameters<typeof agentOf>[0]) => {
    const agent = agentOf(res);
    return { agentId: agent.agentId, role: agent.role };
  };

  router.get(base, auth.requireProjectAgent, async (req, res) => {
    const query = parseInput(leadNoteListQuerySchema, req.query);
    res.json(await notes.list(param(req, 'projectId'), param(req, 'leadId'), query));
  });

  router.post(base, auth.requireProjectAgent, async (req, res) => {
    const input = parseInput(leadNoteCreateSchema, bodyOf(req));
    const body: LeadNoteResponse = {
      note: await notes.create(param(req, 'projectId'), param(req, 'leadId'), agentOf(res).agentId, input.text),
    };
    res.status(201).json(body);
  });

  router.patch(`${base}/:noteId`, auth.requireProjectAgent, async (req, res) => {
    const input = parseInput(leadNotePatchSchema, bodyOf(req));
    const body: LeadNoteResponse = {
      note: await notes.update(
        param(req, 'projectId'),
        param(req, 'leadId'),
        param(req, 'noteId'),
        editor(res),
        input.text,
        input.version,
      ),
    };
    res.json(body);
  });

  router.delete(`${base}/:noteId`, auth.requireProjectAgent, async (req, res) => {
    await notes.remove(param(req, 'projectId'), param(req, 'leadId'), param(req, 'noteId'), editor(res));
    res.status(204).end();
  });

  return router;
}
