import type { Db } from 'mongodb';
import type {
  ErrorResponse,
  LeadNote,
  LeadNoteCreatedEvent,
  LeadNoteDeletedEvent,
  LeadNotePage,
  LeadNoteResponse,
  LeadNoteUpdatedEvent,
  LeadUpdateResult,
} from '@parley/protocol';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { startCluster, type Cluster } from './support/cluster';
import type { ParleyProcess } from './support/parley-process';
import {
  connectAgent,
  connectVisitor,
  EventLog,
  ok,
  wirePackets,
  type AgentClientSocket,
  type VisitorClientSocket,
} from './support/sockets';
import { waitFor } from './support/wait';

/** Agents' notes on a contact (issue 15), on two nodes sharing the database and Redis. */
describe('notes on leads', () => {
  let cluster: Cluster;
  let db: Db;
  let nodeA: ParleyProcess;
  let nodeB: ParleyProcess;
  let projectId: string;
  let author: TestAgent;
  let colleague: TestAgent;
  let owner: TestAgent;
  let listener: AgentClientSocket;
  let agentEvents: EventLog;
  const closers: (() => void)[] = [];

  beforeAll(async () => {
    cluster = await startCluster();
    [nodeA, nodeB] = cluster.nodes as [ParleyProcess, ParleyProcess];
    db = cluster.db;
    projectId = (await createProject(nodeA.url)).project.id;
    [author, colleague, owner] = await Promise.all([
      createAgent(nodeA.url, projectId, 'agent'),
      createAgent(nodeA.url, projectId, 'agent'),
      createAgent(nodeA.url, projectId, 'owner'),
    ]);
    listener = await connectAgent(nodeB.url, colleague.token);
    agentEvents = new EventLog(listener);
  }, 60_000);

  afterEach(() => closers.splice(0).forEach((close) => close()));

  afterAll(async () => {
    listener?.close();
    await cluster?.stop();
  }, 30_000);

  const notesPath = (leadId: string) => `/v1/projects/${projectId}/leads/${leadId}/notes`;
  const addNote = async (leadId: string, text: string, agent = author, node = nodeA) => {
    const res = await client(node.url).post<LeadNoteResponse>(notesPath(leadId), {
      token: agent.token,
      body: { text },
    });
    if (res.status !== 201) throw new Error(`note: ${res.status} ${res.text}`);
    return res.body.note;
  };

  async function visitorLead(name: string): Promise<{ leadId: string; socket: VisitorClientSocket }> {
    const auth = await anonymousVisitor(nodeA.url, projectId);
    const socket = await connectVisitor(nodeB.url, auth.token);
    closers.push(() => socket.close());
    const { lead } = await ok<LeadUpdateResult>(socket, 'lead:update', { fullname: name });
    return { leadId: lead.id, socket };
  }

  test('added, edited and deleted live to agents on the other node, never to the visitor', async () => {
    const { leadId, socket } = await visitorLead('Noted Visitor');
    const packets = wirePackets(socket);
    const note = await addNote(leadId, 'Asked about invoices; call back Monday.');
    expect(note).toMatchObject({ leadId, projectId, authorId: author.id, version: 1 });
    expect(
      (await agentEvents.wait<LeadNoteCreatedEvent>('lead.note.created', (e) => e.note.id === note.id)).note,
    ).toEqual(note);

    const edited = await client(nodeB.url).patch<LeadNoteResponse>(`${notesPath(leadId)}/${note.id}`, {
      token: author.token,
      body: { text: 'Call back Tuesday.' },
    });
    expect(edited.status).toBe(200);
    expect(edited.body.note).toMatchObject({ text: 'Call back Tuesday.', version: 2 });
    await agentEvents.wait<LeadNoteUpdatedEvent>(
      'lead.note.updated',
      (e) => e.note.id === note.id && e.note.version === 2,
    );

    const deleted = await client(nodeA.url).delete(`${notesPath(leadId)}/${note.id}`, { token: author.token });
    expect(deleted.status).toBe(204);
    await agentEvents.wait<LeadNoteDeletedEvent>(
      'lead.note.deleted',
      (e) => e.noteId === note.id && e.leadId === leadId,
    );
    expect(await db.collection('leadnotes').countDocuments({ _id: note.id as never })).toBe(0);

    // The visitor's socket heard nothing of it.
    await ok(socket, 'conversation:list', {});
    expect(JSON.stringify(packets)).not.toContain('lead.note');
    expect(JSON.stringify(packets)).not.toContain('invoices');
  });

  test('only the author or an owner edits or deletes; text is bounded', async () => {
    const { leadId } = await visitorLead('Permissions');
    const note = await addNote(leadId, 'Mine');
    const byColleague = await client(nodeA.url).patch<ErrorResponse>(`${notesPath(leadId)}/${note.id}`, {
      token: colleague.token,
      body: { text: 'Not yours' },
    });
    expect(byColleague.status).toBe(403);
    expect((await client(nodeA.url).delete(`${notesPath(leadId)}/${note.id}`, { token: colleague.token })).status).toBe(
      403,
    );
    const byOwner = await client(nodeB.url).patch<LeadNoteResponse>(`${notesPath(leadId)}/${note.id}`, {
      token: owner.token,
      body: { text: 'Owner edit' },
    });
    expect(byOwner.status).toBe(200);
    expect(byOwner.body.note.authorId).toBe(author.id);

    const long = await client(nodeA.url).post<ErrorResponse>(notesPath(leadId), {
      token: author.token,
      body: { text: 'x'.repeat(10_001) },
    });
    // Over the limit, like a message text: 413.
    expect(long.status).toBe(413);
    expect(long.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await addNote(leadId, 'y'.repeat(10_000))).text).toHaveLength(10_000);
    expect((await client(nodeA.url).delete(`${notesPath(leadId)}/${note.id}`, { token: owner.token })).status).toBe(
      204,
    );
    expect((await client(nodeA.url).delete(`${notesPath(leadId)}/${note.id}`, { token: owner.token })).status).toBe(
      404,
    );
  });

  test('two agents editing the same note at once: with a version one of them gets 409; without, the last write wins', async () => {
    const { leadId } = await visitorLead('Concurrent');
    const note = await addNote(leadId, 'v1');
    const edit = (agent: TestAgent, node: ParleyProcess, text: string, version?: number) =>
      client(node.url).patch<LeadNoteResponse | ErrorResponse>(`${notesPath(leadId)}/${note.id}`, {
        token: agent.token,
        body: version === undefined ? { text } : { text, version },
      });
    const raced = await Promise.all([edit(author, nodeA, 'from A', 1), edit(owner, nodeB, 'from B', 1)]);
    expect(raced.map((r) => r.status).sort()).toEqual([200, 409]);
    const winner = raced.find((r) => r.status === 200)?.body as LeadNoteResponse;
    const stored = await db.collection('leadnotes').findOne({ _id: note.id as never });
    expect(stored).toMatchObject({ text: winner.note.text, version: 2 });

    const blind = await Promise.all([edit(author, nodeA, 'blind A'), edit(owner, nodeB, 'blind B')]);
    expect(blind.map((r) => r.status)).toEqual([200, 200]);
    const after = await db.collection('leadnotes').findOne({ _id: note.id as never });
    // Both writes applied, one after the other: the version moved twice; the text is the later one's.
    expect(after?.['version']).toBe(4);
    const last = blind.map((r) => (r.body as LeadNoteResponse).note).find((n) => n.version === 4);
    expect(after?.['text']).toBe(last?.text);
  });

  test('listed newest first, cursor-paged, stable while notes are added', async () => {
    const { leadId } = await visitorLead('Many notes');
    const made: LeadNote[] = [];
    for (let i = 0; i < 7; i++) made.push(await addNote(leadId, `note ${i}`));
    const seen: string[] = [];
    let cursor: string | null = null;
    let added = false;
    do {
      const page: { body: LeadNotePage } = await client(nodeB.url).get<LeadNotePage>(
        `${notesPath(leadId)}?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        { token: colleague.token },
      );
      seen.push(...page.body.items.map((n) => n.id));
      cursor = page.body.nextCursor;
      // A note added while paging comes before the cursor: never on a later page, nothing repeats.
      if (!added) {
        await addNote(leadId, 'added meanwhile');
        added = true;
      }
    } while (cursor);
    expect(seen).toEqual(made.map((n) => n.id).reverse());
    const bad = await client(nodeA.url).get<ErrorResponse>(`${notesPath(leadId)}?cursor=nonsense`, {
      token: author.token,
    });
    expect(bad.status).toBe(400);
  });

  test('notes move with a merge and go with an erasure; webhooks hear them', async () => {
    const hook = await client(nodeA.url).post(`/v1/projects/${projectId}/webhooks`, {
      token: owner.token,
      body: { url: 'http://127.0.0.1:9/notes', events: ['lead.note.created', 'lead.note.deleted'] },
    });
    expect(hook.status).toBe(201);
    const source = await visitorLead('Source');
    const target = await visitorLead('Target');
    const sourceNote = await addNote(source.leadId, 'on the source');
    await addNote(target.leadId, 'on the target');
    // Both notes are recorded for the webhook, each as its own event (one `webhook-id` per note).
    const recorded = await waitFor('both note events recorded for the webhook', async () => {
      const docs = await db.collection('webhook_deliveries').find({ eventType: 'lead.note.created' }).toArray();
      return docs.length >= 2 ? docs : undefined;
    });
    const bodies = recorded.map(
      (d) => JSON.parse(d['body'] as string) as { data: { note: LeadNote; projectId: string } },
    );
    expect(bodies.map((b) => b.data.note.text).sort()).toEqual(['on the source', 'on the target']);
    expect(bodies.every((b) => b.data.projectId === projectId)).toBe(true);
    expect(new Set(recorded.map((d) => d['eventId'])).size).toBe(2);

    const merged = await client(nodeB.url).post(`/v1/projects/${projectId}/leads/${target.leadId}/merge`, {
      token: author.token,
      body: { sourceLeadIds: [source.leadId] },
    });
    expect(merged.status).toBe(200);
    const page = await client(nodeA.url).get<LeadNotePage>(notesPath(target.leadId), { token: author.token });
    expect(page.body.items.map((n) => n.text).sort()).toEqual(['on the source', 'on the target']);
    expect(page.body.items.every((n) => n.leadId === target.leadId)).toBe(true);
    expect(page.body.items.find((n) => n.id === sourceNote.id)?.leadId).toBe(target.leadId);
    // The merged-away lead takes no new notes: they would be stranded there.
    expect(
      (await client(nodeA.url).post(notesPath(source.leadId), { token: author.token, body: { text: 'x' } })).status,
    ).toBe(409);

    const erased = await client(nodeA.url).delete(`/v1/projects/${projectId}/leads/${target.leadId}`, {
      token: owner.token,
    });
    expect(erased.status).toBe(204);
    expect(await db.collection('leadnotes').countDocuments({ leadId: { $in: [target.leadId, source.leadId] } })).toBe(
      0,
    );
  });
});
