import { randomBytes } from 'node:crypto';
import { SERVER_MAIN } from '../paths';
import { spawnServer, type ServerProcess } from './server-process';

export interface Parley {
  url: string;
  adminToken: string;
  process: ServerProcess;
}

/** Well above anything the bench sends: the limits are measured by tests, not here. */
const UNLIMITED = '1000000000';

/**
 * Parley as in production (NODE_ENV=production, its own process, MongoDB elsewhere), with the rate
 * limits lifted so that the bench measures the server and not its abuse protection.
 */
export async function startParley(mongodbUri: string, dataDir: string, nodeFlags: string[] = []): Promise<Parley> {
  const adminToken = randomBytes(32).toString('base64url');
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    MONGODB_URI: mongodbUri,
    DATA_DIR: dataDir,
    JWT_SECRET: randomBytes(48).toString('base64url'),
    ADMIN_TOKEN: adminToken,
    // Production refuses /metrics on the public port without a token; the bench does not scrape it.
    METRICS_PORT: '0',
    // info, as in production: the 'listening' line is how the bench knows the port.
    LOG_LEVEL: 'info',
    SEED_DEMO: 'false',
    RATE_LIMIT_ANONYMOUS_PER_MINUTE: UNLIMITED,
    RATE_LIMIT_MESSAGES_PER_MINUTE: UNLIMITED,
    RATE_LIMIT_LOGIN_PER_MINUTE: UNLIMITED,
    RATE_LIMIT_COMMANDS_PER_MINUTE: UNLIMITED,
    RATE_LIMIT_CONVERSATIONS_PER_MINUTE: UNLIMITED,
    // Every simulated client connects from 127.0.0.1.
    SOCKETS_PER_USER: UNLIMITED,
    SOCKETS_PER_ADDRESS: UNLIMITED,
    // The webhook scenario's receiver listens on 127.0.0.1, over http.
    WEBHOOK_ALLOW_PRIVATE: 'true',
  };
  const { server, ready } = await spawnServer({
    label: 'parley',
    script: SERVER_MAIN,
    env,
    nodeFlags,
    ready: (line) => {
      if (!line.startsWith('{')) return undefined;
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        return entry.msg === 'listening' ? entry.url : undefined;
      } catch {
        return undefined;
      }
    },
  });
  return { url: ready, adminToken, process: server };
}
