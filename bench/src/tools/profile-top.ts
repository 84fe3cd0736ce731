import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`) by self time: which functions the CPU was
 * actually in, aggregated by function and location, and by package (node_modules/…, node:…, ours).
 * Usage: node bench/dist/tools/profile-top.js FILE.cpuprofile [top=30]
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function packageOf(url: string): string {
  if (!url) return '(native/gc/idle)';
  if (url.startsWith('node:')) return 'node:internal';
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match) return match[1] as string;
  const repo = /\/(server|embedded-mongo|protocol|bench)\/dist\//.exec(url);
  return repo ? `parley:${repo[1]}` : path.basename(url);
}

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: profile-top FILE.cpuprofile [top]');
  const top = Number(process.argv[3] ?? 30);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url
      ? `${url.replace(/^.*node_modules\//, '').replace(/^.*\/work\/main\//, '')}:${lineNumber + 1}`
      : '';
    const key = `${functionName || '(anonymous)'} ${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const pkg = packageOf(url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  const print = (title: string, map: Map<string, number>, n: number) => {
    process.stdout.write(`\n${title}\n`);
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .forEach(([key, us]) => process.stdout.write(`${pct(us)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}\n`));
  };
  process.stdout.write(`${path.basename(file)}: ${(total / 1e6).toFixed(1)} s sampled\n`);
  print('self time by package', byPackage, 15);
  print('self time by function', byFunction, top);
}

main();
