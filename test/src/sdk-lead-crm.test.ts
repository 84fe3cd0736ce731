import jwt from 'jsonwebtoken';
import { createAgentClient, createVisitorClient, memoryStorage, type VisitorClientEvents } from '@parley/client-sdk';
import { createAgent, createProject } from './support/fixtures';
import { startParley, type ParleyProcess } from './support/parley-process';
import { SdkEvents } from './support/sdk-events';
import { outcomeWithin, waitFor } from './support/wait';

/** Far above how long a refusal takes to come back; only a hang takes longer. */
const NO_HANG_MS = 5000;

describe('SDK: blocking contacts and notes on them', () => {
  let server: ParleyProcess;
  const clients: { close(): void }[] = [];

  beforeAll(async () => {
    server = await startParley();
  });
  afterAll(async () => {
    clients.splice(0).forEach((c) => c.close());
    await server?.stop();
    server?.cleanup();
  });

  it('stops with BLOCKED when an agent blocks its lead, and identify() brings it back after an unblock', async () => {
    const { project, secret } = await createProject(server.url);
    const account = await createAgent(server.url, project.id);
    const sub = `customer-blocked-${Date.now()}`;
    const verifiedToken = () => jwt.sign({ sub }, secret, { algorithm: 'HS256', expiresIn: 600 });
    const visitor = createVisitorClient({
      url: server.url,
      projectId: project.id,
      storage: memoryStorage(),
      verifiedToken,
      ackTimeoutMs: 60_000,
    });
    const agent = createAgentClient({ url: server.url, token: account.token });
    clients.push(visitor, agent);
    const visitorEvents = new SdkEvents<VisitorClientEvents>((e, l) => visitor.on(e, l), ['error']);
    await Promise.all([visitor.ready, agent.ready]);
    const lead = await visitor.submitPreChatForm({ fullname: 'Blocked Person' });

    const blocked = await agent.leads.block(lead.id);
    expect(blocked).toMatchObject({ id: lead.id, blocked: true, blockedBy: account.id });

    const error = await visitorEvents.wait('error');
    expect(error.code).toBe('BLOCKED');
    expect(error.retryable).toBe(false);
    await waitFor('the visitor client to stop', () => visitor.status === 'offline');
    expect(await outcomeWithin(visitor.conversations(), NO_HANG_MS)).toMatchObject({
      state: 'rejected',
      error: { code: 'BLOCKED' },
    });

    const unblocked = await agent.leads.unblock(lead.id);
    expect(unblocked.blocked).toBeUndefined();
    await expect(visitor.identify(verifiedToken)).resolves.toEqual({ id: sub, kind: 'verified' });
    expect(visitor.status).toBe('connected');
    await expect(visitor.conversations()).resolves.toEqual([]);
  }, 60_000);

  it("an agent's notes: added, paged, edited with a version, removed, heard live by another console", async () => {
    const { project } = await createProject(server.url);
    const [writer, reader] = await Promise.all([
      createAgent(server.url, project.id),
      createAgent(server.url, project.id),
    ]);
    const agent = createAgentClient({ url: server.url, token: writer.token });
    const other = createAgentClient({ url: server.url, token: reader.token });
    clients.push(agent, other);
    await Promise.all([agent.ready, other.ready]);
    const heard: string[] = [];
    other.on('lead.note.created', ({ note }) => heard.push(`created ${note.text}`));
    other.on('lead.note.updated', ({ note }) => heard.push(`updated ${note.text}`));
    other.on('lead.note.deleted', ({ noteId }) => heard.push(`deleted ${noteId}`));
    const lead = await agent.leads.create({ fullname: 'Noted' });
    const first = await agent.leads.addNote(lead.id, 'first');
    await agent.leads.addNote(lead.id, 'second');
    const page = await agent.leads.notes(lead.id, { limit: 1 });
    expect(page.items.map((n) => n.text)).toEqual(['second']);
    const rest = await agent.leads.notes(lead.id, { limit: 1, cursor: page.nextCursor ?? '' });
    expect(rest.items.map((n) => n.text)).toEqual(['first']);
    const edited = await agent.leads.editNote(lead.id, first.id, 'first, edited', first.version);
    expect(edited.version).toBe(2);
    await expect(agent.leads.editNote(lead.id, first.id, 'stale', first.version)).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(other.leads.removeNote(lead.id, first.id)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await agent.leads.removeNote(lead.id, first.id);
    await waitFor('the other console to hear everything', () => heard.length >= 4);
    expect(heard).toEqual(['created first', 'created second', 'updated first, edited', `deleted ${first.id}`]);
  });
});
