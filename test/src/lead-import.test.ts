import { request as httpRequest } from 'node:http';
import { MongoClient } from 'mongodb';
import type { Lead, LeadImport, LeadImportResponse, LeadTimelinePage, Page } from '@parley/protocol';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startSharedMongo, type SharedMongo } from './support/mongo-process';
import { startParley, type ParleyProcess } from './support/parley-process';
import { connectAgent, connectVisitor, EventLog, ok } from './support/sockets';
import { waitFor } from './support/wait';

const importPath = (projectId: string, query: Record<string, string>) =>
  `/v1/projects/${projectId}/leads/imports?${new URLSearchParams(query).toString()}`;

async function upload(url: string, owner: TestAgent, projectId: string, csv: string, query: Record<string, string>) {
  return client(url).post<LeadImportResponse>(importPath(projectId, query), {
    token: owner.token,
    rawBody: csv,
    headers: { 'content-type': 'text/csv' },
  });
}

async function finished(url: string, owner: TestAgent, projectId: string, id: string, timeoutMs = 60_000) {
  return waitFor(
    `import ${id} to finish`,
    async () => {
      const res = await client(url).get<LeadImportResponse>(`/v1/projects/${projectId}/leads/imports/${id}`, {
        token: owner.token,
      });
      const job = res.body.import;
      return job.status === 'completed' || job.status === 'failed' ? job : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

async function leadsWithEmail(url: string, owner: TestAgent, projectId: string, email: string): Promise<Lead[]> {
  const res = await client(url).get<Page<Lead>>(
    `/v1/projects/${projectId}/leads?email=${encodeURIComponent(email)}&limit=100`,
    { token: owner.token },
  );
  return res.body.items;
}

async function leadCount(url: string, owner: TestAgent, projectId: string): Promise<number> {
  const res = await client(url).get<Page<Lead>>(`/v1/projects/${projectId}/leads?limit=1`, { token: owner.token });
  return res.body.total;
}

const standardMapping = JSON.stringify({
  Email: 'email',
  Name: 'fullname',
  Phone: 'phone',
  Tags: 'tags',
  Plan: 'attributes.plan',
});

describe('contact imports', () => {
  let server: ParleyProcess;
  beforeAll(async () => {
    server = await startParley({ env: { IMPORT_POLL_INTERVAL: '100ms' } });
  }, 60_000);
  afterAll(async () => {
    await server.stop();
    server.cleanup();
  });

  it('reports a dry run, then imports, reports row errors with lines, and creates nothing on a second run', async () => {
    const { project } = await createProject(server.url);
    const owner = await createAgent(server.url, project.id, 'owner');
    const agent = await createAgent(server.url, project.id, 'agent');
    const existing = await client(server.url).post<Lead>(`/v1/projects/${project.id}/leads`, {
      token: owner.token,
      body: { email: 'old@example.com', fullname: 'Old Name', tags: ['kept'] },
    });
    expect(existing.status).toBe(201);
    // A BOM, `;` separators, CRLF, quoted fields holding `;`, quotes and a line break.
    const csv =
      '\uFEFFEmail;Name;Phone;Tags;Plan\r\n' +
      'ann@example.com;"Ann ""The"" Smith";+1 555 0100;"vip;beta";pro\r\n' +
      'old@example.com;"New; Name";;fresh;\r\n' +
      'not-an-email;Bad;;;\r\n' +
      'bob@example.com;Bob;;;"free\r\nplan"\r\n' +
      ';No Email;;;\r\n' +
      'carl@example.com;Carl;12;;\r\n';

    const agentSocket = await connectAgent(server.url, agent.token);
    const pushes = new EventLog(agentSocket);
    try {
      const dry = await upload(server.url, owner, project.id, csv, {
        matchKey: 'email',
        mapping: standardMapping,
        dryRun: 'true',
      });
      expect(dry.status).toBe(202);
      expect(dry.body.import).toMatchObject({
        dryRun: true,
        status: expect.stringMatching(/queued|running|completed/),
      });
      const dryDone = await finished(server.url, owner, project.id, dry.body.import.id);
      expect(dryDone).toMatchObject({
        status: 'completed',
        delimiter: ';',
        rowsProcessed: 6,
        counts: { created: 2, updated: 1, skipped: 0, failed: 3 },
      });
      // Nothing was written.
      expect(await leadsWithEmail(server.url, owner, project.id, 'ann@example.com')).toEqual([]);

      const real = await upload(server.url, owner, project.id, csv, { matchKey: 'email', mapping: standardMapping });
      expect(real.status).toBe(202);
      const done = await finished(server.url, owner, project.id, real.body.import.id);
      expect(done).toMatchObject({
        status: 'completed',
        progress: 1,
        counts: { created: 2, updated: 1, skipped: 0, failed: 3 },
        errorCount: 3,
        failure: null,
      });

      const [ann] = await leadsWithEmail(server.url, owner, project.id, 'ann@example.com');
      expect(ann).toMatchObject({
        fullname: 'Ann "The" Smith',
        phone: '+1 555 0100',
        tags: ['vip', 'beta'],
        attributes: { plan: 'pro' },
      });
      const [bob] = await leadsWithEmail(server.url, owner, project.id, 'bob@example.com');
      expect(bob?.attributes).toEqual({ plan: 'free\r\nplan' });
      const old = await leadsWithEmail(server.url, owner, project.id, 'old@example.com');
      expect(old).toHaveLength(1);
      expect(old[0]).toMatchObject({ id: existing.body.id, fullname: 'New; Name', tags: ['kept', 'fresh'] });
      // The import's edit is on the contact's timeline, by the import (a batched write records it too).
      const timeline = await client(server.url).get<LeadTimelinePage>(
        `/v1/projects/${project.id}/leads/${existing.body.id}/timeline`,
        { token: owner.token },
      );
      expect(timeline.status).toBe(200);
      const edits = timeline.body.items.flatMap((i) =>
        i.type === 'history' && i.history.kind === 'edited' ? [i.history] : [],
      );
      expect(edits).toContainEqual(
        expect.objectContaining({
          by: { type: 'import', id: real.body.import.id },
          changes: expect.arrayContaining(['fullname', 'tags']),
        }),
      );

      const errors = await client(server.url).get(
        `/v1/projects/${project.id}/leads/imports/${real.body.import.id}/errors.csv`,
        { token: owner.token },
      );
      expect(errors.status).toBe(200);
      const lines = errors.text.trimEnd().split('\r\n');
      expect(lines[0]).toBe('line,column,message');
      // Lines of the file: bob's row takes lines 5 and 6, so the row without an email is on line 7.
      expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['4', '7', '8']);
      expect(lines[1]).toContain('Email');
      expect(lines[3]).toContain('Phone');

      // Agents heard the import as batched pushes, not a lead.created per row.
      const completed = await pushes.wait<{ import: LeadImport }>(
        'lead.import.completed',
        (p) => p.import.id === real.body.import.id,
      );
      expect(completed.import.counts.created).toBe(2);
      expect(pushes.of('lead.import.progress').length).toBeGreaterThanOrEqual(1);
      expect(pushes.of<{ lead: Lead }>('lead.created').filter((p) => p.lead.email === 'ann@example.com')).toEqual([]);

      // The same file again: every row matches a contact that already holds its values.
      const before = await leadCount(server.url, owner, project.id);
      const again = await upload(server.url, owner, project.id, csv, { matchKey: 'email', mapping: standardMapping });
      const againDone = await finished(server.url, owner, project.id, again.body.import.id);
      expect(againDone.counts).toEqual({ created: 0, updated: 0, skipped: 3, failed: 3 });
      expect(await leadCount(server.url, owner, project.id)).toBe(before);
    } finally {
      agentSocket.close();
    }
  }, 60_000);

  it('upserts by userId, and refuses bad input before storing anything', async () => {
    const { project } = await createProject(server.url);
    const owner = await createAgent(server.url, project.id, 'owner');
    const agent = await createAgent(server.url, project.id, 'agent');
    const mapping = JSON.stringify({ id: 'userId', name: 'fullname', company: 'attributes.company' });
    const csv = 'id,name,company\nu-1,One,Acme\nu-2,Two,\n';
    const first = await upload(server.url, owner, project.id, csv, { matchKey: 'userId', mapping });
    expect((await finished(server.url, owner, project.id, first.body.import.id)).counts).toEqual({
      created: 2,
      updated: 0,
      skipped: 0,
      failed: 0,
    });
    const second = await upload(server.url, owner, project.id, 'id,name,company\nu-1,One,Initech\n', {
      matchKey: 'userId',
      mapping,
    });
    expect((await finished(server.url, owner, project.id, second.body.import.id)).counts).toEqual({
      created: 0,
      updated: 1,
      skipped: 0,
      failed: 0,
    });
    expect(await leadCount(server.url, owner, project.id)).toBe(2);

    const api = client(server.url);
    const refusals = await Promise.all([
      // A mapping naming a column the header lacks.
      upload(server.url, owner, project.id, csv, { matchKey: 'userId', mapping: JSON.stringify({ nope: 'userId' }) }),
      // The match key is no column's target.
      upload(server.url, owner, project.id, csv, { matchKey: 'email', mapping }),
      // Not JSON, an unknown target.
      upload(server.url, owner, project.id, csv, { matchKey: 'userId', mapping: '{' }),
      upload(server.url, owner, project.id, csv, { matchKey: 'userId', mapping: JSON.stringify({ id: 'password' }) }),
      // Not sent as CSV; an empty file.
      api.post(importPath(project.id, { matchKey: 'userId', mapping }), { token: owner.token, body: { csv } }),
      upload(server.url, owner, project.id, '', { matchKey: 'userId', mapping }),
    ]);
    expect(refusals.map((r) => [r.status, (r.body as { error?: { code?: string } }).error?.code])).toEqual(
      refusals.map(() => [400, 'BAD_REQUEST']),
    );
    // A declared size over 50 MB is refused before a byte of it is stored.
    const tooLarge = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const target = new URL(`${server.url}${importPath(project.id, { matchKey: 'userId', mapping })}`);
      const req = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: `${target.pathname}${target.search}`,
          method: 'POST',
          headers: {
            authorization: `Bearer ${owner.token}`,
            'content-type': 'text/csv',
            'content-length': String(50 * 1024 * 1024 + 1),
          },
        },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write(csv);
    });
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
    // Owners only.
    const asAgent = await client(server.url).post(importPath(project.id, { matchKey: 'userId', mapping }), {
      token: agent.token,
      rawBody: csv,
      headers: { 'content-type': 'text/csv' },
    });
    expect(asAgent.status).toBe(403);
    // Another project's import is not found.
    const other = await createProject(server.url);
    const otherOwner = await createAgent(server.url, other.project.id, 'owner');
    const foreign = await api.get(`/v1/projects/${other.project.id}/leads/imports/${first.body.import.id}`, {
      token: otherOwner.token,
    });
    expect(foreign.status).toBe(404);
  }, 60_000);

  it('fails a broken file with the line, and never makes a second contact for an email a visitor lead already held', async () => {
    const { project } = await createProject(server.url);
    const owner = await createAgent(server.url, project.id, 'owner');
    const broken = await upload(server.url, owner, project.id, 'Email,Name\na@example.com,"open\n', {
      matchKey: 'email',
      mapping: JSON.stringify({ Email: 'email', Name: 'fullname' }),
    });
    const failed = await finished(server.url, owner, project.id, broken.body.import.id);
    expect(failed.status).toBe('failed');
    expect(failed.failure).toMatch(/line 2/);

    // Visitors fill in the pre-chat form while an import of the same emails runs.
    const rows = 60;
    const emails = Array.from({ length: rows }, (_, i) => `race-${i}@example.com`);
    const visitors = await Promise.all(emails.map(() => anonymousVisitor(server.url, project.id)));
    const sockets = await Promise.all(visitors.map((v) => connectVisitor(server.url, v.token)));
    try {
      const csv = `Email,Name\n${emails.map((e, i) => `${e},Imported ${i}`).join('\n')}\n`;
      const [job] = await Promise.all([
        upload(server.url, owner, project.id, csv, {
          matchKey: 'email',
          mapping: JSON.stringify({ Email: 'email', Name: 'fullname' }),
        }),
        ...sockets.map((socket, i) => ok(socket, 'lead:update', { email: emails[i], fullname: `Visitor ${i}` })),
      ]);
      await finished(server.url, owner, project.id, job.body.import.id);
      let joined = 0;
      for (const [i, email] of emails.entries()) {
        const leads = await leadsWithEmail(server.url, owner, project.id, email);
        const own = leads.find((l) => l.userId === visitors[i]?.user.id);
        // The visitor's lead always stays, with the email the visitor typed.
        expect(own).toBeDefined();
        const others = leads.filter((l) => l !== own);
        if (others.length === 0) {
          // The import found the visitor's lead (or merged its own into it): one contact, whose
          // name is the import's (an agent's value, which the visitor's own write does not replace).
          joined++;
          expect(own?.fullname).toBe(`Imported ${i}`);
        } else {
          // Only as when the form comes after the import (two browsers of one person): the import's
          // contact was made before the visitor's lead existed.
          expect(others.map((l) => l.userId.startsWith('import:'))).toEqual([true]);
          expect(Date.parse(others[0]?.createdAt ?? '')).toBeLessThanOrEqual(Date.parse(own?.createdAt ?? ''));
        }
      }
      expect(joined).toBeGreaterThan(0);
    } finally {
      for (const socket of sockets) socket.close();
    }
  }, 90_000);

  it('lands every row on the surviving contact when agents merge contacts during the import', async () => {
    const { project } = await createProject(server.url);
    const owner = await createAgent(server.url, project.id, 'owner');
    const api = client(server.url);
    const n = 40;
    const rounds = 10;
    const emails = Array.from({ length: n }, (_, i) => `merge-${i}@example.com`);
    // Each email on a contact, and an empty contact beside it that the first gets merged into.
    const pairs = await Promise.all(
      emails.map(async (email) => {
        const source = await api.post<Lead>(`/v1/projects/${project.id}/leads`, {
          token: owner.token,
          body: { email },
        });
        const target = await api.post<Lead>(`/v1/projects/${project.id}/leads`, {
          token: owner.token,
          body: { fullname: 'Merge target' },
        });
        return { source: source.body.id, target: target.body.id };
      }),
    );
    // Round after round over every email, each round adding a tag: every contact is being written
    // for the whole import, so every merge meets writes to the contacts it merges.
    const lines: string[] = [];
    for (let round = 0; round < rounds; round++) for (const email of emails) lines.push(`${email},r${round}`);
    const job = await upload(server.url, owner, project.id, `email,tags\n${lines.join('\n')}\n`, {
      matchKey: 'email',
      mapping: JSON.stringify({ email: 'email', tags: 'tags' }),
    });
    expect(job.status).toBe(202);
    await waitFor('the import to start writing', async () => {
      const leads = await leadsWithEmail(server.url, owner, project.id, emails[n - 1] ?? '');
      return leads[0]?.tags.includes('r0');
    });
    for (const { source, target } of pairs) {
      const merged = await api.post(`/v1/projects/${project.id}/leads/${target}/merge`, {
        token: owner.token,
        body: { sourceLeadIds: [source] },
      });
      expect(merged.status).toBe(200);
    }
    const done = await finished(server.url, owner, project.id, job.body.import.id);
    expect(done.counts.failed).toBe(0);
    expect(done.counts.created).toBe(0);
    const every = Array.from({ length: rounds }, (_, r) => `r${r}`);
    for (const [i, email] of emails.entries()) {
      // Only the merge target is listed for the email, and it holds every round's tag, whichever
      // of the merge and each row came first.
      const leads = await leadsWithEmail(server.url, owner, project.id, email);
      expect(leads.map((l) => [l.id, [...l.tags].sort()])).toEqual([[pairs[i]?.target, every]]);
    }
  }, 90_000);
});

describe('an import across nodes', () => {
  let mongo: SharedMongo;
  const nodes: ParleyProcess[] = [];
  const startNode = () =>
    startParley({
      env: { MONGODB_URI: mongo.uri, IMPORT_LEASE: '2s', IMPORT_POLL_INTERVAL: '200ms' },
      timeoutMs: 60_000,
    });

  beforeAll(async () => {
    mongo = await startSharedMongo();
  }, 60_000);
  afterAll(async () => {
    for (const node of nodes) {
      await node.stop();
      node.cleanup();
    }
    await mongo?.stop();
  }, 30_000);

  it('is finished by another node when the node running it is killed, each row written once', async () => {
    const doomed = await startNode();
    nodes.push(doomed);
    const { project } = await createProject(doomed.url);
    const owner = await createAgent(doomed.url, project.id, 'owner');
    const rows = 3000;
    const csv = `email,name\n${Array.from({ length: rows }, (_, i) => `kill-${i}@example.com,Row ${i}`).join('\n')}\n`;
    const job = await upload(doomed.url, owner, project.id, csv, {
      matchKey: 'email',
      mapping: JSON.stringify({ email: 'email', name: 'fullname' }),
    });
    expect(job.status).toBe(202);
    const id = job.body.import.id;
    // Killed once the first batch is checkpointed and before the end.
    const midway = await waitFor(
      'the first checkpoint',
      async () => {
        const res = await client(doomed.url).get<LeadImportResponse>(`/v1/projects/${project.id}/leads/imports/${id}`, {
          token: owner.token,
        });
        return res.body.import.rowsProcessed > 0 ? res.body.import : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 20 },
    );
    await doomed.kill();
    expect(midway.status).toBe('running');
    expect(midway.rowsProcessed).toBeLessThan(rows);

    const survivor = await startNode();
    nodes.push(survivor);
    const done = await finished(survivor.url, owner, project.id, id, 120_000);
    expect(done.status).toBe('completed');
    expect(done.rowsProcessed).toBe(rows);
    // Rows of the batch that was cut are written again and count as skipped the second time.
    expect(done.counts.created + done.counts.skipped).toBe(rows);
    expect(done.counts.failed).toBe(0);
    expect(await leadCount(survivor.url, owner, project.id)).toBe(rows);
    for (const i of [0, 1499, 2999]) {
      expect(await leadsWithEmail(survivor.url, owner, project.id, `kill-${i}@example.com`)).toHaveLength(1);
    }
  }, 240_000);

  it("joins a user's earlier activity to the contact an import creates for it, with one read per slice, not a write per contact", async () => {
    const node = await startNode();
    nodes.push(node);
    const { project } = await createProject(node.url);
    const owner = await createAgent(node.url, project.id, 'owner');
    // A visitor browses before anyone makes it a contact: its activity waits under its user id.
    const auth = await anonymousVisitor(node.url, project.id);
    const socket = await connectVisitor(node.url, auth.token);
    try {
      await ok(socket, 'page:view', { url: 'https://shop.example.com/before-import', title: 'Before', referrer: '' });
    } finally {
      socket.close();
    }
    const driver = new MongoClient(mongo.uri);
    await driver.connect();
    try {
      const updates = async () =>
        ((await driver.db().admin().command({ serverStatus: 1 })) as { opcounters: { update: number } }).opcounters
          .update;
      const rows = 1000;
      const ids = [auth.user.id, ...Array.from({ length: rows - 1 }, (_, i) => `imported-${i}`)];
      const before = await updates();
      const job = await upload(
        node.url,
        owner,
        project.id,
        `id,name\n${ids.map((id, i) => `${id},Row ${i}`).join('\n')}\n`,
        {
          matchKey: 'userId',
          mapping: JSON.stringify({ id: 'userId', name: 'fullname' }),
        },
      );
      expect(job.status).toBe(202);
      expect((await finished(node.url, owner, project.id, job.body.import.id)).counts.created).toBe(rows);
      const visitorLead = (
        await client(node.url).get<Page<Lead>>(`/v1/projects/${project.id}/leads?q=${encodeURIComponent('Row 0')}`, {
          token: owner.token,
        })
      ).body.items.find((lead) => lead.userId === auth.user.id);
      expect(visitorLead).toBeDefined();
      await waitFor('the page view on the imported contact', async () => {
        const res = await client(node.url).get<LeadTimelinePage>(
          `/v1/projects/${project.id}/leads/${visitorLead?.id}/timeline`,
          { token: owner.token },
        );
        return res.body.items.some((i) => i.type === 'activity' && i.activity.url?.endsWith('/before-import') === true);
      });
      // Slices of 500 rows: a few writes each (checkpoints, locks, the visitor's adoption), where a
      // write per created contact made 1,000 more.
      expect((await updates()) - before).toBeLessThan(rows / 4);
    } finally {
      await driver.close();
    }
  });
});
