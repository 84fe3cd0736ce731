import type { AgentLoginResponse, ProjectCreatedResponse, VisitorAuthResponse } from '@parley/protocol';
import { client } from './http';
import { TEST_ADMIN_TOKEN } from './parley-process';

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter++).toString(36)}`;

export async function createProject(url: string, body: Record<string, unknown> = {}): Promise<ProjectCreatedResponse> {
  const res = await client(url).post<ProjectCreatedResponse>('/v1/admin/projects', {
    token: TEST_ADMIN_TOKEN,
    body: { name: `Project ${unique()}`, ...body },
  });
  if (res.status !== 201) throw new Error(`create project: ${res.status} ${res.text}`);
  return res.body;
}

export interface TestAgent {
  email: string;
  password: string;
  token: string;
  id: string;
}

export async function createAgent(
  url: string,
  projectId: string,
  role: 'owner' | 'agent' = 'agent',
): Promise<TestAgent> {
  const email = `agent-${unique()}@example.com`;
  const password = 'correct horse battery staple';
  const created = await client(url).post(`/v1/admin/projects/${projectId}/agents`, {
    token: TEST_ADMIN_TOKEN,
    body: { email, password, name: `Agent ${email}`, role },
  });
  if (created.status !== 201) throw new Error(`create agent: ${created.status} ${created.text}`);
  const login = await client(url).post<AgentLoginResponse>('/v1/agents/login', { body: { email, password } });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${login.text}`);
  return { email, password, token: login.body.token, id: login.body.agent.id };
}

export async function anonymousVisitor(url: string, projectId: string): Promise<VisitorAuthResponse> {
  const res = await client(url).post<VisitorAuthResponse>(`/v1/projects/${projectId}/auth/anonymous`, { body: {} });
  if (res.status !== 201) throw new Error(`anonymous sign-in: ${res.status} ${res.text}`);
  return res.body;
}
