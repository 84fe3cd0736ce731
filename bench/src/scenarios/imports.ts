import { performance } from 'node:perf_hooks';
import { round } from '../stats';
import type { Target } from '../targets';
import type { Context } from './context';

/** The `contacts` figures of an import (issue 15): rows per second and how much the server's RSS grew. */
export interface ImportsResult {
  importRows: number;
  importSeconds: number;
  importRowsPerSec: number;
  /** Highest RSS seen while the import ran (after a full GC at each look), less the RSS before. */
  importRssGrowthBytes: number;
}

async function call<T>(url: string, method: string, path: string, token: string | undefined, body?: unknown) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** A CSV of `rows` contacts with new emails: every row creates one (the slow path of an import). */
function csvOf(rows: number): string {
  const lines = ['email,name,phone,tags,plan,company'];
  for (let i = 0; i < rows; i++)
    lines.push(
      `import-${i}@bench.example.com,"Contact ${i}, Bench",+1 555 ${String(i).padStart(7, '0')},"a,b",pro,Acme ${i % 97}`,
    );
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * One CSV import of `importRows` new contacts into a fresh project, as an owner would send it; the
 * time runs from the first byte of the upload to the job's completion, and the server's RSS is
 * sampled (after a GC) while it runs. Parley only: the baseline stores nothing.
 */
export async function importsScenario(ctx: Context, adminToken: string): Promise<ImportsResult> {
  const parley = ctx.targets[1] as Target;
  const rows = ctx.options.sizes.importRows;
  const { project } = await call<{ project: { id: string } }>(parley.url, 'POST', '/v1/admin/projects', adminToken, {
    name: 'Bench imports',
  });
  const email = 'bench-import-owner@example.com';
  const password = 'bench password 0123456789';
  await call(parley.url, 'POST', `/v1/admin/projects/${project.id}/agents`, adminToken, {
    email,
    password,
    name: 'Import owner',
    role: 'owner',
  });
  const { token } = await call<{ token: string }>(parley.url, 'POST', '/v1/agents/login', undefined, {
    email,
    password,
  });
  const csv = csvOf(rows);
  const mapping = JSON.stringify({
    email: 'email',
    name: 'fullname',
    phone: 'phone',
    tags: 'tags',
    plan: 'attributes.plan',
    company: 'attributes.company',
  });
  const before = await parley.process.probe();
  let peak = before.rss;
  ctx.progress.start(`imports: ${rows} rows (${(csv.length / 1e6).toFixed(1)} MB)`);
  const t0 = performance.now();
  const res = await fetch(
    `${parley.url}/v1/projects/${project.id}/leads/imports?matchKey=email&mapping=${encodeURIComponent(mapping)}`,
    { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' }, body: csv },
  );
  if (res.status !== 202) throw new Error(`import upload: ${res.status} ${await res.text()}`);
  const { import: job } = (await res.json()) as { import: { id: string } };
  for (;;) {
    const { import: state } = await call<{
      import: { status: string; rowsProcessed: number; counts: { created: number; failed: number }; failure: string };
    }>(parley.url, 'GET', `/v1/projects/${project.id}/leads/imports/${job.id}`, token);
    peak = Math.max(peak, (await parley.process.probe()).rss);
    if (state.status === 'failed') throw new Error(`import failed: ${state.failure}`);
    if (state.status === 'completed') {
      if (state.counts.created !== rows) throw new Error(`import created ${state.counts.created} of ${rows}`);
      break;
    }
    ctx.progress.update(`${state.rowsProcessed}/${rows}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const seconds = (performance.now() - t0) / 1000;
  const result: ImportsResult = {
    importRows: rows,
    importSeconds: round(seconds, 1),
    importRowsPerSec: round(rows / seconds, 0),
    importRssGrowthBytes: Math.max(0, peak - before.rss),
  };
  ctx.progress.done(
    `${result.importRowsPerSec} rows/s, RSS +${(result.importRssGrowthBytes / 1024 / 1024).toFixed(1)} MiB`,
  );
  return result;
}
