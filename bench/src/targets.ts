import type { ServerProcess } from './processes/server-process';
import type { TargetKind } from './load/worker-messages';

/** One project per load worker, so each worker's agent hears exactly its own visitors' messages. */
export interface Group {
  projectId: string;
  agentToken: string;
}

export interface Target {
  kind: TargetKind;
  url: string;
  process: ServerProcess;
  groups: Group[];
}

async function post<T>(url: string, path: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Creates `count` projects, each with one agent, through Parley's admin API; logs the agents in. */
export async function parleyGroups(url: string, adminToken: string, count: number): Promise<Group[]> {
  const groups: Group[] = [];
  for (let i = 0; i < count; i++) {
    const { project } = await post<{ project: { id: string } }>(
      url,
      '/v1/admin/projects',
      { name: `Bench ${i}` },
      adminToken,
    );
    const email = `bench-agent-${i}@example.com`;
    const password = 'bench password 0123456789';
    await post(url, `/v1/admin/projects/${project.id}/agents`, { email, password, name: `Agent ${i}` }, adminToken);
    const { token } = await post<{ token: string }>(url, '/v1/agents/login', { email, password });
    groups.push({ projectId: project.id, agentToken: token });
  }
  return groups;
}

/** The baseline takes any project id and any token: there is nothing to create. */
export function baselineGroups(count: number): Group[] {
  return Array.from({ length: count }, (_, i) => ({ projectId: `bench-${i}`, agentToken: `agent-${i}` }));
}
