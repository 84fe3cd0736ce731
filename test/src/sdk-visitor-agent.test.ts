import jwt from 'jsonwebtoken';
import {
  createAgentClient,
  createVisitorClient,
  memoryStorage,
  ParleyError,
  type AgentClient,
  type AgentClientEvents,
  type ClientMessage,
  type ContactSearch,
  type LeadSearch,
  type TokenStorage,
  type VisitorClient,
  type VisitorClientEvents,
  type VisitorClientOptions,
} from '@parley/client-sdk';
import { startDatabase, type TestDatabase } from './support/database';
import { createAgent, createProject, type TestAgent } from './support/fixtures';
import { startParley, type ParleyProcess } from './support/parley-process';
import { SdkEvents } from './support/sdk-events';
import { waitFor } from './support/wait';

const AGENT_EVENTS: (keyof AgentClientEvents)[] = [
  'lead.created',
  'lead.updated',
  'lead.merged',
  'lead.deleted',
  'conversation.created',
  'conversation.updated',
  'message.created',
  'typing',
  'message',
  'reload',
  'error',
];
const VISITOR_EVENTS: (keyof VisitorClientEvents)[] = ['message', 'conversation', 'typing', 'status', 'error'];

/** Resolves with the ParleyError a promise rejects with; fails the test if it resolves or throws anything else. */
async function refusal(promise: Promise<unknown>): Promise<ParleyError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ParleyError);
    return error as ParleyError;
  }
  throw new Error('expected a ParleyError, but the call succeeded');
}

const sentTexts = (messages: ClientMessage[]) => messages.filter((m) => m.status === 'sent').map((m) => m.text);

describe('SDK: visitor and agent clients against a real server', () => {
  let database: TestDatabase;
  let server: ParleyProcess;
  let projectId: string;
  /** Signs verified-visitor tokens for the project, as a customer's backend does. */
  let projectSecret: string;
  let agentAccount: TestAgent;
  let agent: AgentClient;
  let agentEvents: SdkEvents<AgentClientEvents>;
  const clients: { close(): void }[] = [];

  beforeAll(async () => {
    database = await startDatabase();
    server = await startParley({ env: { MONGODB_URI: database.uri } });
    const created = await createProject(server.url);
    projectId = created.project.id;
    projectSecret = created.secret;
    agentAccount = await createAgent(server.url, projectId, 'owner');
    // Email and password: the client logs in by itself.
    agent = createAgentClient({ url: server.url, email: agentAccount.email, password: agentAccount.password });
    agentEvents = new SdkEvents<AgentClientEvents>((e, l) => agent.on(e, l), AGENT_EVENTS);
    await agent.ready;
  });
  afterAll(async () => {
    clients.splice(0).forEach((c) => c.close());
    agent?.close();
    await server?.stop();
    server?.cleanup();
    await database?.stop();
  });

  /** A visitor client in a "browser": `storage` is that browser's localStorage. */
  function visitor(
    storage: TokenStorage,
    options: Partial<VisitorClientOptions> = {},
  ): { client: VisitorClient; events: SdkEvents<VisitorClientEvents> } {
    const client = createVisitorClient({ url: server.url, projectId, storage, ...options });
    clients.push(client);
    return { client, events: new SdkEvents<VisitorClientEvents>((e, l) => client.on(e, l), VISITOR_EVENTS) };
  }

  // First on purpose: socket.io-client caches one connection per URL, and the agent client made in
  // beforeAll is the one a visitor client would share if the SDK did not ask for its own.
  it('gives each client its own connection: closing a visitor leaves the agent live', async () => {
    const leaving = visitor(memoryStorage());
    await leaving.client.startConversation({ text: 'bye' });
    await agentEvents.wait('message.created', (e) => e.message.text === 'bye');
    leaving.client.close();
    expect(leaving.client.status).toBe('offline');

    const staying = visitor(memoryStorage());
    const conversation = await staying.client.startConversation({ text: 'still there?' });
    await agentEvents.wait('message.created', (e) => e.message.conversationId === conversation.id);
    expect(agent.status).toBe('connected');
  });

  it('lives the two-leads-one-email story, and the agent client sees every step live', async () => {
    const email = `two-browsers-${Date.now()}@example.com`;
    const browserA = memoryStorage();
    const browserB = memoryStorage();

    // Browser A: the pre-chat form creates the lead; the console hears it.
    const a = visitor(browserA);
    await a.client.ready;
    const userA = a.client.user?.id ?? '';
    expect(userA).toMatch(/^[0-9a-f-]{36}$/);
    const formA = await a.client.submitPreChatForm({ fullname: 'Ada Lovelace', email: `  ${email.toUpperCase()} ` });
    expect(formA).toMatchObject({ fullname: 'Ada Lovelace', email });
    const leadA = (await agentEvents.wait('lead.created', (e) => e.lead.userId === userA)).lead;
    expect(leadA).toMatchObject({ id: formA.id, projectId, kind: 'anonymous', email, fullname: 'Ada Lovelace' });

    // A's first conversation: conversation.created with its lead, then the message (raw and ordered).
    const convA = await a.client.startConversation({ text: 'Hello from A', attributes: { page: '/pricing' } });
    const created = await agentEvents.wait('conversation.created', (e) => e.conversation.id === convA.id);
    expect(created.lead?.id).toBe(leadA.id);
    expect(created.conversation).toMatchObject({ leadId: leadA.id, userId: userA, status: 'open' });
    const firstMessage = await agentEvents.wait('message.created', (e) => e.message.conversationId === convA.id);
    expect(firstMessage.message).toMatchObject({
      seq: 1,
      text: 'Hello from A',
      sender: { id: userA, role: 'visitor' },
    });
    // The console opens the conversation: the client holds its ordered list from then on.
    expect(sentTexts(await agent.conversations.history(convA.id))).toEqual(['Hello from A']);
    expect(sentTexts(agent.conversations.messages(convA.id))).toEqual(['Hello from A']);

    // A later form change: one lead.updated naming exactly what changed.
    await a.client.submitPreChatForm({ phone: '+44 20 7946 0000' });
    const updated = await agentEvents.wait('lead.updated', (e) => e.lead.id === leadA.id);
    expect(updated.changes).toEqual(['phone']);
    expect(updated.lead.phone).toBe('+44 20 7946 0000');

    // Browser B: the same person, the same email, a new UUID and so a second lead.
    const b = visitor(browserB);
    await b.client.ready;
    const userB = b.client.user?.id ?? '';
    expect(userB).not.toBe(userA);
    const formB = await b.client.submitPreChatForm({ email, lastname: 'King' });
    const leadB = (await agentEvents.wait('lead.created', (e) => e.lead.userId === userB)).lead;
    expect(leadB.id).toBe(formB.id);
    expect(leadB.id).not.toBe(leadA.id);
    const convB = await b.client.startConversation({ text: 'Hello from B' });
    expect((await agentEvents.wait('conversation.created', (e) => e.conversation.id === convB.id)).lead?.id).toBe(
      leadB.id,
    );
    expect(await database.db.collection('leads').countDocuments({ projectId, email })).toBe(2);

    // The console's search by email finds both, whatever the case and spaces.
    const found = await agent.leads.search({ email: ` ${email.toUpperCase()}` });
    expect(found.total).toBe(2);
    expect(found.items.map((l) => l.id).sort()).toEqual([leadA.id, leadB.id].sort());

    // Merge B into A: one contact, A's fields winning, B's filling the gaps.
    const merged = await agent.leads.merge(leadA.id, [leadB.id]);
    expect(merged).toMatchObject({
      id: leadA.id,
      fullname: 'Ada Lovelace',
      lastname: 'King',
      phone: '+44 20 7946 0000',
      conversationCount: 2,
    });
    const mergedEvent = await agentEvents.wait('lead.merged', (e) => e.lead.id === leadA.id);
    expect(mergedEvent.mergedLeadIds).toEqual([leadB.id]);
    const afterMerge = await agent.leads.search({ email });
    expect(afterMerge.items.map((l) => l.id)).toEqual([leadA.id]);

    // Browser B carries on, and lands on the merged contact.
    const convB2 = await b.client.startConversation({ text: 'B again, after the merge' });
    const createdB2 = await agentEvents.wait('conversation.created', (e) => e.conversation.id === convB2.id);
    expect(createdB2.conversation.leadId).toBe(leadA.id);
    expect(createdB2.lead?.id).toBe(leadA.id);
    const formB2 = await b.client.submitPreChatForm({ attributes: { plan: 'pro' } });
    expect(formB2.id).toBe(leadA.id);
    const detail = await agent.leads.get(leadA.id);
    expect(detail.lead.attributes).toMatchObject({ plan: 'pro' });
    expect(detail.conversations.map((c) => c.id).sort()).toEqual([convA.id, convB.id, convB2.id].sort());

    // Neither visitor client saw an error on the way.
    expect(a.events.of('error')).toEqual([]);
    expect(b.events.of('error')).toEqual([]);
    expect(agentEvents.of('error')).toEqual([]);
  });

  it('chats both ways: pending then stored, typing, join and close, in seq order', async () => {
    const v = visitor(memoryStorage());
    const conversation = await v.client.startConversation();
    const createdEvent = await agentEvents.wait('conversation.created', (e) => e.conversation.id === conversation.id);
    expect(createdEvent.conversation.messageCount).toBe(0);
    // The visitor's own client learns of the conversation too.
    await v.events.wait('conversation', (c) => c.id === conversation.id);

    // A send shows at once as pending, then as the stored message with the same clientMessageId.
    const sending = conversation.send('first question');
    const pending = conversation.messages.at(-1);
    expect(pending).toMatchObject({ status: 'pending', text: 'first question' });
    const stored = await sending;
    expect(stored).toMatchObject({ seq: 1, clientMessageId: pending?.clientMessageId });
    const states = v.events
      .of('message')
      .filter((e) => e.message.clientMessageId === stored.clientMessageId)
      .map((e) => e.message.status);
    expect(states).toEqual(['pending', 'sent']);
    expect(conversation.messages.map((m) => [m.status, m.text])).toEqual([['sent', 'first question']]);

    // The agent joins: both sides hear the assignment.
    const joined = await agent.conversations.join(conversation.id);
    expect(joined).toMatchObject({ status: 'open', assigneeId: agentAccount.id });
    await agentEvents.wait('conversation.updated', (e) => e.conversation.id === conversation.id);
    await v.events.wait('conversation', (c) => c.id === conversation.id && c.assigneeId === agentAccount.id);
    expect(conversation.data?.assigneeId).toBe(agentAccount.id);

    // Typing both ways.
    conversation.setTyping(true);
    const visitorTyping = await agentEvents.wait('typing', (e) => e.conversationId === conversation.id && e.typing);
    expect(visitorTyping.sender.role).toBe('visitor');
    agent.conversations.setTyping(conversation.id, true);
    const agentTyping = await v.events.wait('typing', (e) => e.conversationId === conversation.id && e.typing);
    expect(agentTyping.sender).toMatchObject({ id: agentAccount.id, role: 'agent' });

    // The reply reaches the visitor's list, after the question.
    const reply = await agent.conversations.send(conversation.id, 'how can I help?');
    expect(reply).toMatchObject({ seq: 2, sender: { role: 'agent', id: agentAccount.id } });
    await waitFor('the reply in the visitor list', () => conversation.messages.length === 2);
    expect(conversation.messages.map((m) => [m.status, m.text])).toEqual([
      ['sent', 'first question'],
      ['sent', 'how can I help?'],
    ]);
    await Promise.all([conversation.send('q2'), conversation.send('q3'), conversation.send('q4')]);
    const agentView = await agent.conversations.history(conversation.id);
    expect(agentView.map((m) => (m.status === 'sent' ? m.seq : -1))).toEqual([1, 2, 3, 4, 5]);
    expect(agentView.map((m) => m.text)).toEqual(['first question', 'how can I help?', 'q2', 'q3', 'q4']);
    // The REST page agrees with what the client assembled from events.
    const page = await agent.conversations.page(conversation.id);
    expect(page.items.map((m) => m.text)).toEqual(agentView.map((m) => m.text));

    const resolved = await agent.conversations.resolve(conversation.id);
    expect(resolved.status).toBe('resolved');
    await v.events.wait('conversation', (c) => c.id === conversation.id && c.status === 'resolved');
  });

  it('sends the first message of startConversation like any other: pending at once, then stored, or failed', async () => {
    const v = visitor(memoryStorage());
    const conversation = await v.client.startConversation({ text: 'first words' });
    expect(conversation.messages.map((m) => [m.status, m.text])).toEqual([['pending', 'first words']]);
    await v.events.wait('message', (e) => e.message.text === 'first words' && e.message.status === 'sent');
    expect(conversation.messages).toEqual([expect.objectContaining({ status: 'sent', seq: 1, text: 'first words' })]);

    // Refused: the conversation exists, its first message shows as failed with the reason.
    const refused = await v.client.startConversation({ text: 'x'.repeat(4001) });
    await v.events.wait('message', (e) => e.conversationId === refused.id && e.message.status === 'failed');
    expect(refused.messages).toEqual([
      expect.objectContaining({ status: 'failed', error: expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }) }),
    ]);
    await expect(refused.send('shorter')).resolves.toMatchObject({ seq: 1, text: 'shorter' });
  });

  it('keeps the same UUID, lead and conversations when re-created on the same storage', async () => {
    const storage = memoryStorage();
    const first = visitor(storage);
    await first.client.ready;
    const userId = first.client.user?.id;
    const conversation = await first.client.startConversation({ text: 'before the reload' });
    await conversation.send('second line');
    const leadId = conversation.data?.leadId;
    first.client.close();

    // A reload: a new client on the same localStorage.
    const second = visitor(storage);
    await second.client.ready;
    expect(second.client.user?.id).toBe(userId);
    const conversations = await second.client.conversations();
    expect(conversations.map((c) => c.id)).toEqual([conversation.id]);
    const history = await conversations[0]?.history();
    expect(history?.map((m) => m.text)).toEqual(['before the reload', 'second line']);
    const again = await second.client.startConversation({ text: 'after the reload' });
    expect(again.data?.leadId).toBe(leadId);
    expect(await database.db.collection('leads').countDocuments({ projectId, userId })).toBe(1);

    // A browser with other storage is someone else.
    const stranger = visitor(memoryStorage());
    await stranger.client.ready;
    expect(stranger.client.user?.id).not.toBe(userId);
  });

  it('signs in verified users: one lead per customer id from any browser, and identify() later', async () => {
    const sign = (sub: string, claims: Record<string, unknown> = {}, secret = projectSecret) =>
      jwt.sign({ sub, ...claims }, secret, { algorithm: 'HS256', expiresIn: 600 });
    const sub = `customer-${Date.now()}`;
    const email = `${sub}@example.com`;

    // Browser A, signed in by the customer's backend: the profile lands on the lead.
    const a = visitor(memoryStorage(), { verifiedToken: sign(sub, { email, fullname: 'Katherine Johnson' }) });
    await a.client.ready;
    expect(a.client.user).toEqual({ id: sub, kind: 'verified' });
    const lead = (await agentEvents.wait('lead.created', (e) => e.lead.userId === sub)).lead;
    expect(lead).toMatchObject({ kind: 'verified', email, fullname: 'Katherine Johnson' });
    const conversation = await a.client.startConversation({ text: 'as a customer' });

    // Browser B, with a function that fetches a fresh token: the same user, the same conversations.
    const b = visitor(memoryStorage(), { verifiedToken: async () => sign(sub) });
    await b.client.ready;
    expect(b.client.user).toEqual({ id: sub, kind: 'verified' });
    expect((await b.client.conversations()).map((c) => c.id)).toEqual([conversation.id]);
    expect(await database.db.collection('leads').countDocuments({ projectId, userId: sub })).toBe(1);

    // An anonymous visitor who logs in on the customer's site later.
    const c = visitor(memoryStorage());
    await c.client.ready;
    expect(c.client.user?.kind).toBe('anonymous');
    const later = `${sub}-later`;
    await expect(c.client.identify(sign(later))).resolves.toEqual({ id: later, kind: 'verified' });
    const afterLogin = await c.client.startConversation({ text: 'logged in now' });
    expect(afterLogin.data?.userId).toBe(later);
    const heard = await agentEvents.wait('message.created', (e) => e.message.text === 'logged in now');
    expect(heard.message.sender).toMatchObject({ id: later, role: 'visitor' });

    // A token not signed with the project's secret is refused.
    const forged = visitor(memoryStorage(), { verifiedToken: sign('intruder', {}, 'not-the-project-secret-000000') });
    expect((await refusal(forged.client.ready)).code).toBe('UNAUTHORIZED');
  });

  it('manages leads through the SDK: update, export, remove, and the console hears each change', async () => {
    const email = `grace-${Date.now()}@example.com`;
    const v = visitor(memoryStorage());
    await v.client.submitPreChatForm({ fullname: 'Grace Hopper', email, attributes: { plan: 'free', team: 'navy' } });
    const lead = (await agentEvents.wait('lead.created', (e) => e.lead.userId === v.client.user?.id)).lead;
    const conversation = await v.client.startConversation({ text: 'about my data' });
    await agentEvents.wait('message.created', (e) => e.message.conversationId === conversation.id);

    // Attributes merge key by key; null removes one.
    const updated = await agent.leads.update(lead.id, {
      phone: '+1 555 0100',
      attributes: { plan: 'pro', team: null },
    });
    expect(updated).toMatchObject({ id: lead.id, phone: '+1 555 0100', attributes: { plan: 'pro' } });
    expect(updated.attributes).not.toHaveProperty('team');
    const heard = await agentEvents.wait('lead.updated', (e) => e.lead.id === lead.id && e.changes.includes('phone'));
    expect(heard.lead.phone).toBe('+1 555 0100');

    const csv = (await agent.leads.exportCsv({ email })).trim().split(/\r?\n/);
    expect(csv).toHaveLength(2);
    expect(csv[0]).toContain('email');
    expect(csv[1]).toContain(email);
    expect(csv[1]).toContain(lead.id);

    // Erasure: the lead, its conversations and messages; the console is told.
    await expect(agent.leads.remove(lead.id)).resolves.toBeUndefined();
    expect((await agentEvents.wait('lead.deleted', (e) => e.leadId === lead.id)).leadId).toBe(lead.id);
    expect((await refusal(agent.leads.get(lead.id))).code).toBe('NOT_FOUND');
    expect((await refusal(agent.conversations.page(conversation.id))).code).toBe('NOT_FOUND');
    expect((await agent.leads.exportCsv({ email })).trim().split(/\r?\n/)).toHaveLength(1);
    expect(await database.db.collection('leads').countDocuments({ email })).toBe(0);
  });

  it('keeps the 0.1 names for one version: agent.contacts is agent.leads, ContactSearch is LeadSearch', async () => {
    const email = `alias-${Date.now()}@example.com`;
    const lead = await agent.leads.create({ fullname: 'Old Name', email });
    // Deprecated on purpose: code written against 0.1 keeps working, on the very same object.
    expect(agent.contacts).toBe(agent.leads);
    const oldQuery: ContactSearch = { email };
    const newQuery: LeadSearch = oldQuery;
    const found = await agent.contacts.search(oldQuery);
    expect(found.items.map((l) => l.id)).toEqual([lead.id]);
    expect((await agent.leads.search(newQuery)).items.map((l) => l.id)).toEqual([lead.id]);
  });

  it('rejects refused input with the protocol code as a ParleyError, and marks the message failed', async () => {
    const v = visitor(memoryStorage());
    const conversation = await v.client.startConversation();

    const tooLong = await refusal(conversation.send('x'.repeat(4001)));
    expect(tooLong.code).toBe('PAYLOAD_TOO_LARGE');
    const failed = conversation.messages.find((m) => m.status === 'failed');
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'PAYLOAD_TOO_LARGE' } });
    // A refused message does not block the ones behind it.
    await expect(conversation.send('short enough')).resolves.toMatchObject({ seq: 1 });

    expect((await refusal(v.client.conversation('000000000000000000000000').send('hi'))).code).toBe('NOT_FOUND');
    expect((await refusal(v.client.submitPreChatForm({ email: 'not an email' }))).code).toBe('BAD_REQUEST');
    const unknownField = await refusal(v.client.submitPreChatForm({ role: 'admin' } as never));
    expect(unknownField.code).toBe('BAD_REQUEST');

    expect((await refusal(agent.leads.get('000000000000000000000000'))).code).toBe('NOT_FOUND');
    expect((await refusal(agent.leads.merge('000000000000000000000000', []))).code).toBe('BAD_REQUEST');

    // Start-up failures come through `ready`, never as unhandled rejections.
    const wrongPassword = createAgentClient({ url: server.url, email: agentAccount.email, password: 'wrong' });
    clients.push(wrongPassword);
    expect((await refusal(wrongPassword.ready)).code).toBe('UNAUTHORIZED');
    const unknownProject = createVisitorClient({
      url: server.url,
      projectId: 'no-such-project',
      storage: memoryStorage(),
    });
    clients.push(unknownProject);
    expect((await refusal(unknownProject.ready)).code).toBe('NOT_FOUND');
    expect(() => createVisitorClient({ url: '', projectId })).toThrow(ParleyError);

    // Another project's contacts are not this agent's business.
    const otherProject = (await createProject(server.url)).project.id;
    const otherAgent = await createAgent(server.url, otherProject);
    const outsider = createAgentClient({ url: server.url, token: otherAgent.token });
    clients.push(outsider);
    await outsider.ready;
    const leadId = (await agent.leads.create({ fullname: 'Private Person' })).id;
    expect((await refusal(outsider.leads.get(leadId))).code).toBe('NOT_FOUND');
  });

  // That an ignored send never becomes an unhandled rejection is tested in a process of its own
  // (sdk-process.test.ts): jest intercepts unhandled rejections, so a test in here could not fail.
  it('lets a UI fire sends and forget them: a refusal shows as failed, the rest goes out', async () => {
    const v = visitor(memoryStorage());
    const conversation = await v.client.startConversation();
    // What a widget driven by the 'message' event does: no await, no catch.
    void conversation.send('y'.repeat(4001));
    void conversation.send('fine');
    await v.events.wait('message', (e) => e.message.text === 'fine' && e.message.status === 'sent');
    expect(conversation.messages.map((m) => m.status)).toEqual(['sent', 'failed']);
    expect(conversation.messages[1]).toMatchObject({ status: 'failed', error: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it("survives a listener that throws, and reports the UI's error instead of hiding it", async () => {
    const v = visitor(memoryStorage());
    const conversation = await v.client.startConversation();
    const reported = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const bug = new Error('a bug in the UI');
      v.client.on('message', () => {
        throw bug;
      });
      const after: string[] = [];
      v.client.on('message', (e) => after.push(`${e.message.status}:${e.message.text}`));
      await conversation.send('despite the bug');
      await conversation.send('and again');
      expect(conversation.messages.map((m) => [m.status, m.text])).toEqual([
        ['sent', 'despite the bug'],
        ['sent', 'and again'],
      ]);
      // The listeners after it still ran.
      expect(after).toEqual(['pending:despite the bug', 'sent:despite the bug', 'pending:and again', 'sent:and again']);
      expect(reported).toHaveBeenCalledWith(expect.any(String), bug);
    } finally {
      reported.mockRestore();
    }
  });

  it('stops calling a listener once it is unsubscribed', async () => {
    const v = visitor(memoryStorage());
    const conversation = await v.client.startConversation();

    const agentHeard: string[] = [];
    const visitorHeard: string[] = [];
    const offAgent = agent.on('message.created', (e) => agentHeard.push(e.message.text));
    const offVisitor = v.client.on('message', (e) => visitorHeard.push(`${e.message.status}:${e.message.text}`));
    await conversation.send('heard');
    await waitFor('the agent listener', () => agentHeard.includes('heard'));
    expect(visitorHeard).toEqual(['pending:heard', 'sent:heard']);

    offAgent();
    offVisitor();
    offAgent(); // twice is harmless
    await conversation.send('not heard');
    // Listeners still subscribed have received it, in the same emit that would have called the
    // unsubscribed ones: nothing more can come for them.
    await agentEvents.wait('message.created', (e) => e.message.text === 'not heard');
    await v.events.wait('message', (e) => e.message.text === 'not heard' && e.message.status === 'sent');
    expect(agentHeard).toEqual(['heard']);
    expect(visitorHeard).toEqual(['pending:heard', 'sent:heard']);
  });
});
