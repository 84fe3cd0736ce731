import { performance } from 'node:perf_hooks';
import type { Socket } from 'socket.io-client';
import { runClosedLoad, runOpenLoad, type Visitor } from './load-loops';
import { command, connected, openSocket, pool, signIn } from './sockets';
import type { OpenResult, OpenSpec, WorkerReply, WorkerRequest } from './worker-messages';

/**
 * A load worker: a child process of its own, so that the load it makes never shares an event loop
 * with the server it measures nor with the other workers. It holds visitors (and one agent
 * socket) across requests, so scenarios can grow the population step by step.
 */
const visitors: Visitor[] = [];
let agent: Socket | undefined;

function send(reply: WorkerReply): void {
  process.send?.(reply);
}

async function open(id: number, spec: OpenSpec): Promise<OpenResult> {
  const started = performance.now();
  if (spec.agentToken && !agent) {
    agent = openSocket(spec.url, '/agent', { token: spec.agentToken, projectId: spec.projectId });
    await connected(agent);
  }
  let signInMs = 0;
  let lastReport = 0;
  const { failed, firstError } = await pool(
    spec.visitors,
    spec.concurrency,
    async () => {
      const t0 = performance.now();
      const token = await signIn(spec.url, spec.kind, spec.projectId);
      signInMs += performance.now() - t0;
      const socket = openSocket(spec.url, '/visitor', { token, projectId: spec.projectId });
      try {
        await connected(socket);
        const visitor: Visitor = { socket };
        if (spec.startConversations) {
          const { conversation } = await command<{ conversation: { id: string } }>(socket, 'conversation:start', {});
          visitor.conversationId = conversation.id;
        }
        visitors.push(visitor);
      } catch (error) {
        socket.close();
        throw error;
      }
    },
    (done) => {
      const now = performance.now();
      if (now - lastReport > 250 || done === spec.visitors) {
        lastReport = now;
        send({ id, type: 'progress', done, total: spec.visitors });
      }
    },
  );
  return {
    visitors: visitors.length,
    added: spec.visitors - failed,
    failed,
    ...(firstError ? { firstError } : {}),
    elapsedMs: performance.now() - started,
    signInMs,
  };
}

async function close(): Promise<void> {
  for (const visitor of visitors) visitor.socket.close();
  visitors.length = 0;
  agent?.close();
  agent = undefined;
  // Let the close frames go out before the orchestrator measures the server again.
  await new Promise((resolve) => setTimeout(resolve, 200));
}

async function handle(request: WorkerRequest): Promise<unknown> {
  const progress = (done: number, total: number) => send({ id: request.id, type: 'progress', done, total });
  switch (request.type) {
    case 'open':
      return open(request.id, request.spec);
    case 'closed-load':
      if (!agent) throw new Error('closed-load needs an agent');
      return runClosedLoad(visitors, agent, request.spec, progress);
    case 'open-load':
      if (!agent) throw new Error('open-load needs an agent');
      return runOpenLoad(visitors, agent, request.spec, progress);
    case 'close':
      await close();
      return {};
  }
}

process.on('message', (request: WorkerRequest) => {
  handle(request).then(
    (result) => send({ id: request.id, type: 'result', result }),
    (error: unknown) =>
      send({ id: request.id, type: 'error', message: error instanceof Error ? error.message : String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
