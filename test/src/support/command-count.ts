import { client } from './http';
import type { ParleyProcess } from './parley-process';

/** How many `command`s a server answered ok on a namespace, from its /metrics. */
export async function commandCount(server: ParleyProcess, namespace: '/visitor' | '/agent', command: string) {
  const { text } = await client(server.url).get('/metrics');
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('parley_command_duration_seconds_count{') &&
        l.includes(`namespace="${namespace}"`) &&
        l.includes(`command="${command}"`) &&
        l.includes('outcome="ok"'),
    );
  return line ? Number(line.split(' ').pop()) : 0;
}
