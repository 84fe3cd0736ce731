import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { DestinationRefused, type DestinationGuard } from './destination-guard';

/** What is read of a receiver's answer, and kept in the delivery log. */
export const RESPONSE_BODY_LIMIT = 64 * 1024;

export type AttemptOutcome = 'success' | 'http_error' | 'timeout' | 'network_error' | 'refused';

export interface AttemptResult {
  outcome: AttemptOutcome;
  statusCode?: number;
  error?: string;
  responseBody?: string;
  durationMs: number;
}

export interface OutgoingDelivery {
  url: string;
  headers: Record<string, string>;
  body: string;
}

function serverVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export const USER_AGENT = `Parley-Webhooks/${serverVersion()}`;

/**
 * One HTTP attempt: a POST, no redirects followed (a 3xx is an answer like any non-2xx), the
 * answer read up to 64 KB, the whole attempt within `timeoutMs`. Connections go through the
 * destination guard's `lookup`, so every address used was checked at this delivery; kept-alive
 * connections are reused for a few seconds, to addresses checked when they opened.
 */
export class WebhookSender {
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, timeout: 5000, maxFreeSockets: 16 }),
    'https:': new https.Agent({ keepAlive: true, keepAliveMsecs: 1000, timeout: 5000, maxFreeSockets: 16 }),
  };

  constructor(
    private readonly guard: DestinationGuard,
    private readonly timeoutMs: number,
  ) {}

  send(delivery: OutgoingDelivery, signal?: AbortSignal): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let url: URL;
    try {
      url = new URL(delivery.url);
      this.guard.checkBeforeConnect(url);
    } catch (error) {
      return Promise.resolve({ outcome: 'refused', error: messageOf(error), durationMs: elapsed() });
    }
    const transport = url.protocol === 'https:' ? https : http;
    const body = Buffer.from(delivery.body);
    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      const finish = (result: Omit<AttemptResult, 'durationMs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...result, durationMs: elapsed() });
      };
      const request = transport.request(url, {
        method: 'POST',
        agent: this.agents[url.protocol as 'http:' | 'https:'],
        lookup: this.guard.lookup as never,
        headers: {
          ...delivery.headers,
          'content-type': 'application/json',
          'content-length': String(body.length),
          'user-agent': USER_AGENT,
        },
        ...(signal ? { signal } : {}),
      });
      const timer = setTimeout(() => {
        finish({ outcome: 'timeout', error: `no answer within ${this.timeoutMs} ms` });
        request.destroy();
      }, this.timeoutMs);
      request.on('error', (error) => {
        if (error instanceof DestinationRefused) finish({ outcome: 'refused', error: error.message });
        else finish({ outcome: 'network_error', error: messageOf(error) });
      });
      request.on('response', (response) => {
        const statusCode = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          const responseBody = Buffer.concat(chunks).toString('utf8');
          const ok = statusCode >= 200 && statusCode < 300;
          finish({
            outcome: ok ? 'success' : 'http_error',
            statusCode,
            ...(ok ? {} : { error: `answered ${statusCode}` }),
            ...(responseBody ? { responseBody } : {}),
          });
        };
        response.on('data', (chunk: Buffer) => {
          if (size >= RESPONSE_BODY_LIMIT) return;
          const room = RESPONSE_BODY_LIMIT - size;
          chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
          size += Math.min(chunk.length, room);
          // Enough read: the rest is not waited for (and the connection is not reused).
          if (size >= RESPONSE_BODY_LIMIT) {
            done();
            response.destroy();
          }
        });
        response.on('end', done);
        response.on('error', (error) => finish({ outcome: 'network_error', statusCode, error: messageOf(error) }));
      });
      request.end(body);
    });
  }

  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
