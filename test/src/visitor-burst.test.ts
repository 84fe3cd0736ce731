import net from 'node:net';
import { ERROR_CODES, type VisitorAuthResponse } from '@parley/protocol';
import { io } from 'socket.io-client';
import { createProject } from './support/fixtures';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';
import { waitConnected, type VisitorClientSocket } from './support/sockets';
import { outcomeWithin, waitFor } from './support/wait';

const VISITORS = 2_000;
/** Fewer sign-ins a minute than visitors, and fewer sockets than sign-ins: both refusals appear. */
const SIGN_INS_PER_MINUTE = 1_400;
const SOCKETS_PER_ADDRESS = 1_000;
/** A deadline for "never answered", far above how long an answer takes on a loaded machine. */
const HANG_MS = 60_000;

type Outcome =
  | { step: 'served' }
  | { step: 'sign-in'; status: number; code?: string; retryAfter: boolean }
  | { step: 'handshake'; code: string | undefined; message: string }
  | { step: 'hung'; at: 'sign-in' | 'handshake' }
  | { step: 'failed'; at: 'sign-in' | 'handshake'; error: string };

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: unknown;
}

/**
 * An HTTP request on a TCP connection of its own, opened now; `sent` resolves once the connection
 * is established (by the kernel: the server process need not be running), `response` once the
 * server answered and closed it, or rejects if the connection failed.
 */
function rawPost(port: number, path: string, body: string): { sent: Promise<void>; response: Promise<RawResponse> } {
  const socket = net.connect(port, '127.0.0.1');
  const sent = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  const response = new Promise<RawResponse>((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('end', () => {
      const text = Buffer.concat(chunks).toString();
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const status = Number(statusLine.split(' ')[1]);
      if (!Number.isInteger(status)) {
        reject(new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const headers = new Map(
        headerLines.map((line) => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as [string, string];
        }),
      );
      let parsed: unknown;
      try {
        parsed = JSON.parse(rest.join('\r\n\r\n'));
      } catch {
        parsed = undefined;
      }
      resolve({ status, headers, body: parsed });
    });
  });
  return { sent, response };
}

/** A visitor socket as the SDK opens it, waiting as long as it takes to be accepted or refused. */
function openVisitorSocket(url: string, token: string): VisitorClientSocket {
  return io(`${url}/visitor`, {
    auth: { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: HANG_MS,
  }) as VisitorClientSocket;
}

describe('a burst of visitors arriving at once', () => {
  let server: ParleyProcess;
  beforeAll(async () => {
    server = await startParley({
      env: {
        RATE_LIMIT_ANONYMOUS_PER_MINUTE: String(SIGN_INS_PER_MINUTE),
        SOCKETS_PER_ADDRESS: String(SOCKETS_PER_ADDRESS),
      },
    });
  });
  afterAll(async () => {
    server.process.kill('SIGCONT');
    await server.stop();
    server.cleanup();
  });

  it(`serves each of ${VISITORS} visitors or tells it to retry, and stays up`, async () => {
    const { project } = await createProject(server.url);
    const sockets: VisitorClientSocket[] = [];

    // Every visitor does what the widget does on a page load: anonymous sign-in, then the socket.
    // They all arrive while the process is busy (stopped, as in a long pause): the kernel must
    // queue every connection for it, not drop any (a dropped SYN is retried a second later, then
    // 3 s, 7 s…: a visitor waiting for nothing, or a client giving up).
    server.process.kill('SIGSTOP');
    let signIns: { sent: Promise<void>; response: Promise<RawResponse> }[];
    try {
      signIns = Array.from({ length: VISITORS }, () =>
        rawPost(server.port, `/v1/projects/${project.id}/auth/anonymous`, '{}'),
      );
      let connected = 0;
      for (const { sent } of signIns) void sent.then(() => connected++);
      await waitFor('every connection to be queued for the stopped server', () => connected === VISITORS, {
        timeoutMs: 30_000,
        describe: () => `${connected} of ${VISITORS} connected`,
      });
    } finally {
      server.process.kill('SIGCONT');
    }

    const arrive = async ({ response }: { response: Promise<RawResponse> }): Promise<Outcome> => {
      const signIn = await outcomeWithin(response, HANG_MS);
      if (signIn.state === 'pending') return { step: 'hung', at: 'sign-in' };
      if (signIn.state === 'rejected') return { step: 'failed', at: 'sign-in', error: String(signIn.error) };
      const { status, headers, body } = signIn.value;
      if (status !== 201) {
        const code = (body as { error?: { code?: string } } | undefined)?.error?.code;
        const retryAfter = Number(headers.get('retry-after'));
        return { step: 'sign-in', status, ...(code ? { code } : {}), retryAfter: retryAfter >= 1 };
      }
      const { token } = body as VisitorAuthResponse;
      const socket = openVisitorSocket(server.url, token);
      sockets.push(socket);
      const handshake = await outcomeWithin(waitConnected(socket, HANG_MS * 2), HANG_MS);
      if (handshake.state === 'pending') return { step: 'hung', at: 'handshake' };
      if (handshake.state === 'resolved') return { step: 'served' };
      const error = handshake.error as Error & { data?: { code?: string } };
      return { step: 'handshake', code: error.data?.code, message: error.message };
    };

    try {
      const outcomes = await Promise.all(signIns.map(arrive));
      const tally = new Map<string, number>();
      for (const outcome of outcomes) {
        const key = JSON.stringify(outcome);
        tally.set(key, (tally.get(key) ?? 0) + 1);
      }
      const summary = [...tally]
        .sort((a, b) => b[1] - a[1])
        .map(([key, count]) => `${count} × ${key}`)
        .join('\n');

      // Nothing hung, failed without a code, or was answered anything but "served" or "retry".
      const toldToRetry = (o: Outcome) =>
        (o.step === 'sign-in' &&
          ((o.status === 429 && o.code === 'RATE_LIMITED') || (o.status === 503 && o.code === 'UNAVAILABLE')) &&
          o.retryAfter) ||
        (o.step === 'handshake' &&
          (o.code === 'RATE_LIMITED' || o.code === 'UNAVAILABLE') &&
          o.message === o.code &&
          ERROR_CODES.includes(o.code));
      const unexpected = outcomes.filter((o) => o.step !== 'served' && !toldToRetry(o)).length;
      expect({ unexpected, summary }).toEqual({ unexpected: 0, summary });
      // Both outcomes happened, at both steps: the limits were reached, and so was the socket.
      const served = outcomes.filter((o) => o.step === 'served').length;
      expect({ served: served > 0, summary }).toEqual({ served: true, summary });
      expect(served).toBeLessThanOrEqual(SOCKETS_PER_ADDRESS);
      expect(outcomes.some((o) => o.step === 'sign-in')).toBe(true);
      expect(outcomes.some((o) => o.step === 'handshake')).toBe(true);

      // The served ones are live, and the process is up and answering.
      expect(sockets.filter((s) => s.connected).length).toBe(served);
      expect(server.process.exitCode).toBeNull();
      expect((await client(server.url).get('/healthz')).status).toBe(200);
    } finally {
      for (const socket of sockets) socket.close();
    }
  }, 180_000);
});
