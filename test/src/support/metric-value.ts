import { client } from './http';

/**
 * The value of one series of a server's /metrics (`name` with every label of `labels`), or
 * undefined when the server does not report it.
 */
export async function metricValue(
  url: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const { text } = await client(url).get('/metrics');
  const line = text.split('\n').find((l) => {
    if (!(l.startsWith(`${name} `) || l.startsWith(`${name}{`))) return false;
    return Object.entries(labels).every(([key, value]) => l.includes(`${key}="${value}"`));
  });
  return line === undefined ? undefined : Number(line.split(' ').pop());
}
