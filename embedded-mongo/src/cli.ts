import { startEmbeddedMongo, type EmbeddedMongo } from './index';

const USAGE = `usage: embedded-mongo [--port 27017] [--host 127.0.0.1] [--dbpath DIR]

A MongoDB wire-protocol server for development, tests and demos.
  --port N      port to listen on (default 27017; 0 picks a free one)
  --host ADDR   interface to listen on (default 127.0.0.1)
  --dbpath DIR  keep data in DIR (journaled); without it, data lives in memory
`;

function fail(message: string): never {
  process.stderr.write(`embedded-mongo: ${message}\n`);
  process.exit(2);
}

function parse(argv: string[]): { port: number; host: string; dbPath?: string } {
  let port = 27017;
  let host = '127.0.0.1';
  let dbPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=') ? (arg.split(/=(.*)/s, 2) as [string, string]) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') fail(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      case '--port': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) > 65535) fail(`--port must be a number from 0 to 65535 (got "${v}")`);
        port = Number(v);
        break;
      }
      case '--host':
      case '--bind_ip':
        host = value();
        break;
      case '--dbpath':
        dbPath = value();
        break;
      default:
        fail(`unknown argument "${arg}" (see --help)`);
    }
  }
  return { port, host, ...(dbPath ? { dbPath } : {}) };
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * npm (`npx`, `npm exec`, `npm run`) runs a bin through a shell, and passes a SIGTERM it gets to
 * that shell only: the shell exits and this process would run on, orphaned, still holding the port
 * and the data directory. So when npm started it, its parent going away stops it, as a signal
 * would. (Run directly, as `node_modules/.bin/embedded-mongo`, it receives signals itself.)
 */
function stopWithParent(stop: () => void): void {
  if (process.env['npm_lifecycle_event'] === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.stderr.write('embedded-mongo: the npm process that started it exited; stopping\n');
    stop();
  }, 200);
  timer.unref();
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  // Signals are handled from the start: one arriving while the server starts stops it once started,
  // and one arriving right after the listening line can never find the default handler.
  let server: EmbeddedMongo | undefined;
  let stopRequested = false;
  const stop = () => {
    if (stopRequested && server === undefined) return;
    stopRequested = true;
    if (!server) return;
    const running = server;
    server = undefined;
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`embedded-mongo: stopping failed: ${describeError(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  stopWithParent(stop);
  try {
    server = await startEmbeddedMongo({ ...options, log: (m) => process.stderr.write(`embedded-mongo: ${m}\n`) });
  } catch (error) {
    process.stderr.write(`embedded-mongo: ${describeError(error)}\n`);
    process.exit(1);
  }
  process.stdout.write(
    `embedded-mongo listening on ${server.uri} (${options.dbPath ? `dbpath ${options.dbPath}` : 'in memory'})\n`,
  );
  if (stopRequested) stop();
}

void main();
