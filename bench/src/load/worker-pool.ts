import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { WorkerReply, WorkerRequest } from './worker-messages';

type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  onProgress?: (done: number, total: number) => void;
}

/** One forked load worker and the requests in flight to it. */
class WorkerHandle {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(readonly child: ChildProcess) {
    child.on('message', (reply: WorkerReply) => {
      const entry = this.pending.get(reply.id);
      if (!entry) return;
      if (reply.type === 'progress') return entry.onProgress?.(reply.done, reply.total);
      this.pending.delete(reply.id);
      if (reply.type === 'result') entry.resolve(reply.result);
      else entry.reject(new Error(reply.message));
    });
    child.on('exit', (code) => {
      for (const entry of this.pending.values()) entry.reject(new Error(`load worker exited with ${code}`));
      this.pending.clear();
    });
  }

  request<T>(request: Request, onProgress?: (done: number, total: number) => void): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, {
        resolve: resolve as (value: unknown) => void,
        reject,
        ...(onProgress ? { onProgress } : {}),
      });
      this.child.send({ ...request, id } as WorkerRequest);
    });
  }
}

/**
 * N load workers, each a child process (`child_process.fork`) with its own event loop. Requests go
 * to all of them at once; progress is summed across workers.
 */
export class WorkerPool {
  private constructor(readonly workers: WorkerHandle[]) {}

  static start(count: number): WorkerPool {
    const script = path.join(__dirname, 'worker.js');
    const workers = Array.from(
      { length: count },
      () =>
        new WorkerHandle(
          fork(script, [], {
            // Many sockets per worker: give the heap room so GC pauses do not skew latencies.
            execArgv: ['--max-old-space-size=4096'],
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          }),
        ),
    );
    return new WorkerPool(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Sends each worker its own request (`requestFor(index)`), resolves with every result. */
  async all<T>(
    requestFor: (index: number) => Request,
    onProgress?: (done: number, total: number) => void,
  ): Promise<T[]> {
    const progress = this.workers.map(() => ({ done: 0, total: 0 }));
    return Promise.all(
      this.workers.map((worker, index) =>
        worker.request<T>(requestFor(index), (done, total) => {
          progress[index] = { done, total };
          onProgress?.(
            progress.reduce((sum, p) => sum + p.done, 0),
            progress.reduce((sum, p) => sum + p.total, 0),
          );
        }),
      ),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.child.exitCode !== null) return resolve();
            worker.child.once('exit', () => resolve());
            worker.child.disconnect();
            setTimeout(() => worker.child.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
  }
}
