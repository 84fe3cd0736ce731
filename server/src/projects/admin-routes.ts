import type { Router } from 'express';
import type { AgentResponse, ProjectCreatedResponse, SecretRotatedResponse } from '@parley/protocol';
import {
  agentCreateSchema,
  agentPasswordResetSchema,
  agentUpdateSchema,
  projectCreateSchema,
  projectUpdateSchema,
} from '@parley/protocol/schemas';
import type { AgentService } from '../agents/agent-service';
import type { HttpAuth } from '../http/http-auth';
import { bodyOf, param } from '../http/request-input';
import { parseInput } from '../validation';
import type { ProjectService } from './project-service';
import { exactRouter } from '../http/router';

export interface AdminRoutesDeps {
  auth: HttpAuth;
  projects: ProjectService;
  agents: AgentService;
}

/** The admin API, enabled by ADMIN_TOKEN: projects, their secrets and their agents. */
export function adminRoutes({ auth, projects, agents }: AdminRoutesDeps): Router {
  const router = exactRouter();
  router.use('/admin', auth.requireAdmin);

  router.post('/admin/projects', async (req, res) => {
    const input = parseInput(projectCreateSchema, bodyOf(req));
    const body: ProjectCreatedResponse = await projects.create(input);
    res.status(201).json(body);
  });

  router.get('/admin/projects/:projectId', async (req, res) => {
    res.json({ project: await projects.get(param(req, 'projectId')) });
  });

  router.patch('/admin/projects/:projectId', async (req, res) => {
    const input = parseInput(projectUpdateSchema, bodyOf(req));
    res.json({
      project: await projects.update(param(req, 'projectId'), input),
    });
  });

  router.post('/admin/projects/:projectId/secret/rotate', async (req, res) => {
    const body: SecretRotatedResponse = await projects.rotateSecret(param(req, 'projectId'));
    res.json(body);
  });

  router.post('/admin/projects/:projectId/agents', async (req, res) => {
    const input = parseInput(agentCreateSchema, bodyOf(req));
    const project = await projects.get(param(req, 'projectId'));
    const body: AgentResponse = {
      agent: await agents.create(project.id, input),
    };
    res.status(201).json(body);
  });

  router.get('/admin/projects/:projectId/agents', async (req, res) => {
    const project = await projects.get(param(req, 'projectId'));
    res.json({ items: await agents.listForProject(project.id) });
  });

  // A role change signs the agent out everywhere; a name change does not.
  router.patch('/admin/projects/:projectId/agents/:agentId', async (req, res) => {
    const input = parseInput(agentUpdateSchema, bodyOf(req));
    const body: AgentResponse = { agent: await agents.update(param(req, 'projectId'), param(req, 'agentId'), input) };
    res.json(body);
  });

  // A reset signs the agent out everywhere.
  router.post('/admin/projects/:projectId/agents/:agentId/password', async (req, res) => {
    const input = parseInput(agentPasswordResetSchema, bodyOf(req));
    const body: AgentResponse = {
      agent: await agents.setPassword(param(req, 'projectId'), param(req, 'agentId'), input.password),
    };
    res.json(body);
  });

  router.delete('/admin/projects/:projectId/agents/:agentId', async (req, res) => {
    await agents.remove(param(req, 'projectId'), param(req, 'agentId'));
    res.status(204).end();
  });

  return router;
}
