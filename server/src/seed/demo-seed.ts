import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentService } from '../agents/agent-service';
import { AppError } from '../errors';
import type { ProjectService } from '../projects/project-service';

export interface DemoCredentials {
  projectId: string;
  projectName: string;
  agentEmail: string;
  agentPassword: string;
  /** Signs verified-visitor tokens for the demo project. */
  projectSecret: string;
}

/** What is known while seeding: the file is written before each step, so a crash can resume. */
interface SeedState {
  agentPassword: string;
  projectId?: string;
  projectSecret?: string;
  agentCreated?: boolean;
}

const FILE = 'demo-credentials.json';
const PROJECT_NAME = 'Demo';
const AGENT_EMAIL = 'demo@parley.local';

function readState(file: string): SeedState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as Partial<SeedState>;
    return typeof state.agentPassword === 'string' ? (state as SeedState) : undefined;
  } catch {
    return undefined;
  }
}

/** Written to a temp file and renamed, so a crash never leaves half a file. */
function writeState(dataDir: string, file: string, state: SeedState | DemoCredentials): void {
  mkdirSync(dataDir, { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

/**
 * On an empty database, create a demo project and agent so a newcomer can try Parley at once. The
 * credentials are kept in DATA_DIR (readable by the owner only) so that every later start can print
 * them again. Each step is recorded in that file before the next one, so a start that crashed
 * half-way finishes the seed on the next start instead of leaving a project without an agent or a
 * password nobody knows. A database that already holds other projects is never seeded.
 */
export async function seedDemo(
  dataDir: string,
  projects: ProjectService,
  agents: AgentService,
): Promise<DemoCredentials | undefined> {
  const file = path.join(dataDir, FILE);
  let state = readState(file);
  if (!state) {
    if ((await projects.count()) > 0) return undefined;
    state = { agentPassword: randomBytes(9).toString('base64url') };
    writeState(dataDir, file, state);
  }

  if (!state.projectId || !(await projects.exists(state.projectId))) {
    // A crash after creating the project but before recording it left a project named Demo, and
    // nothing else (anything more is someone's data, whose secret must not be rotated).
    const orphan =
      state.projectId || (await projects.count()) !== 1 ? undefined : await projects.findIdByName(PROJECT_NAME);
    if (orphan) {
      state = { ...state, projectId: orphan, projectSecret: (await projects.rotateSecret(orphan)).secret };
    } else {
      if (state.projectId && (await projects.count()) > 0) return undefined; // the demo was deleted on purpose
      const { project, secret } = await projects.create({ name: PROJECT_NAME });
      state = { agentPassword: state.agentPassword, projectId: project.id, projectSecret: secret };
    }
    writeState(dataDir, file, state);
  }
  const projectId = state.projectId as string;

  if (!state.agentCreated) {
    try {
      await agents.create(projectId, {
        email: AGENT_EMAIL,
        password: state.agentPassword,
        name: 'Demo Agent',
        role: 'owner',
      });
    } catch (error) {
      // Created before a crash, with this very password: nothing to do.
      if (!(error instanceof AppError && error.code === 'CONFLICT')) throw error;
    }
  }

  const credentials: DemoCredentials = {
    projectId,
    projectName: PROJECT_NAME,
    agentEmail: AGENT_EMAIL,
    agentPassword: state.agentPassword,
    projectSecret: state.projectSecret ?? '',
  };
  if (!state.agentCreated) writeState(dataDir, file, { ...credentials, agentCreated: true });
  return credentials;
}
