/**
 * Preloaded (`node -r`) into the server processes the bench measures, Parley and the baseline
 * alike, so both are measured the same way without touching the server's code. Over the fork IPC
 * channel it answers memory questions after a full GC (the process runs with --expose-gc), which
 * is what makes "heap per connection" a stable figure rather than a snapshot of garbage.
 */
export interface ProbeReply {
  type: 'probe';
  heapUsed: number;
  rss: number;
  external: number;
  cpuUserMs: number;
  cpuSystemMs: number;
}

const collect = (globalThis as { gc?: () => void }).gc;

if (process.send) {
  process.on('message', (message: unknown) => {
    if ((message as { type?: string } | null)?.type !== 'probe') return;
    // Twice: the first pass may only make more garbage collectable (weak maps, finalizers).
    collect?.();
    collect?.();
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    const reply: ProbeReply = {
      type: 'probe',
      heapUsed: memory.heapUsed,
      rss: memory.rss,
      external: memory.external,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
    };
    process.send?.(reply);
  });
  // The IPC channel must not keep a server alive that was asked to stop.
  process.channel?.unref();
}
