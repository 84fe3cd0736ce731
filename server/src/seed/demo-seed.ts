import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentService } from '../agents/agent-service';
import type { ProjectService } from '../projects/project-service';

export interface DemoCredentials {
  projectId: string;
  projectName: string;
  agentEmail: string;
  agentPassword: string;
  /** Signs verified-visitor tokens for the demo project. */
  projectSecret: string;
}

const FILE = 'demo-credentials.json';

/**
 * On embedded defaults with an empty database, create a demo project and agent so a newcomer can
 * try Parley at once. The credentials are kept in DATA_DIR (readable by the owner only) so that
 * every later start can print them again.
 */
export async function seedDemo(
  dataDir: string,
  projects: ProjectService,
  agents: AgentService,
): Promise<DemoCredentials | undefined> {
  const file = path.join(dataDir, FILE);
  if ((await projects.count()) > 0) {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DemoCredentials) : undefined;
  }
  const { project, secret } = await projects.create({ name: 'Demo' });
  const agentPassword = randomBytes(9).toString('base64url');
  const agent = await agents.create(project.id, {
    email: 'demo@parley.local',
    password: agentPassword,
    name: 'Demo Agent',
    role: 'owner',
  });
  const credentials: DemoCredentials = {
    projectId: project.id,
    projectName: project.name,
    agentEmail: agent.email,
    agentPassword,
    projectSecret: secret,
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  return credentials;
}
