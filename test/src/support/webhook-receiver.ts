import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import type { WebhookPayload } from '@parley/protocol';
import { killAndWait, waitForLine } from './child-output';
import { REPO_ROOT } from './paths';
import { waitFor } from './wait';

export interface ReceivedRequest {
  n: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  receivedAt: number;
  answer: string;
}

/** One request's event, parsed. */
export const eventOf = (request: ReceivedRequest): WebhookPayload => JSON.parse(request.body) as WebhookPayload;

/** The Standard Webhooks headers of a request, as `standardwebhooks` wants them. */
export function signedHeaders(request: ReceivedRequest): Record<string, string> {
  return {
    'webhook-id': request.headers['webhook-id'] ?? '',
    'webhook-timestamp': request.headers['webhook-timestamp'] ?? '',
    'webhook-signature': request.headers['webhook-signature'] ?? '',
  };
}

/** Verifies a request with the reference implementation; throws when the signature does not verify. */
export function verifyWithStandardWebhooks(secret: string, request: ReceivedRequest): unknown {
  return new Webhook(secret).verify(request.body, signedHeaders(request));
}

/**
 * A receiver in its own process (test/src/child/webhook-receiver.ts): what it got, and ways to
 * stop it (SIGTERM, or SIGKILL for a crash) and start it again on the same port.
 */
export class ReceiverProcess {
  readonly requests: ReceivedRequest[] = [];
  private child: ChildProcess | undefined;
  port = 0;

  private constructor(private plan: string) {}

  static async start(plan = '', port = 0): Promise<ReceiverProcess> {
    const receiver = new ReceiverProcess(plan);
    await receiver.launch(port);
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Starts it again on its port (after `stop`), with a new plan if given. */
  async restart(plan = this.plan): Promise<void> {
    this.plan = plan;
    await this.launch(this.port);
  }

  async stop(): Promise<void> {
    if (this.child) await killAndWait(this.child, 'SIGTERM');
    this.child = undefined;
  }

  waitForRequests(count: number, timeoutMs = 60_000): Promise<ReceivedRequest[]> {
    return waitFor(`${count} webhook requests`, () => this.requests.length >= count && this.requests, {
      timeoutMs,
      describe: () => `${this.requests.length} received: ${this.requests.map((r) => r.answer).join(',')}`,
    });
  }

  private async launch(port: number): Promise<void> {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'test', 'dist', 'child', 'webhook-receiver.js')], {
      env: { PATH: process.env['PATH'] ?? '', PORT: String(port), RECEIVER_PLAN: this.plan },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines)
        if (line.startsWith('REQUEST ')) this.requests.push(JSON.parse(line.slice(8)) as ReceivedRequest);
    });
    const match = await waitForLine(child, /LISTENING (\d+)/, 'webhook receiver');
    this.port = Number(match[1]);
    this.child = child;
  }
}
