import {
  createAgentClient,
  createVisitorClient,
  memoryStorage,
  type AgentClient,
  type AgentClientEvents,
  type VisitorClient,
  type VisitorClientEvents,
} from '@parley/client-sdk';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, pageProblems } from './support/browser';
import { createAgent, createProject, type TestAgent } from './support/fixtures';
import { startParley, type ParleyProcess } from './support/parley-process';
import { SdkEvents } from './support/sdk-events';

/** The demo pages served by the server (server/public/demo), driven like a person would. */
describe('demo pages in headless Chromium', () => {
  let server: ParleyProcess;
  let browser: Browser;
  let context: BrowserContext;
  let projectId: string;
  let account: TestAgent;
  let agent: AgentClient;
  let agentEvents: SdkEvents<AgentClientEvents>;
  const clients: { close(): void }[] = [];

  beforeAll(async () => {
    server = await startParley();
    projectId = (await createProject(server.url, { name: 'Acme' })).project.id;
    account = await createAgent(server.url, projectId);
    agent = createAgentClient({ url: server.url, token: account.token });
    agentEvents = new SdkEvents<AgentClientEvents>(
      (e, l) => agent.on(e, l),
      ['lead.created', 'lead.updated', 'message.created', 'typing'],
    );
    await agent.ready;
    browser = await launchChromium();
    // A server and Chromium started together: over 30 s on a loaded 2-core machine.
  }, 90_000);
  beforeEach(async () => {
    context = await browser.newContext();
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await context?.close();
  });
  afterAll(async () => {
    agent?.close();
    await browser?.close();
    await server?.stop();
    server?.cleanup();
  });

  async function open(path: string): Promise<{ page: Page; problems: string[] }> {
    const page = await context.newPage();
    const problems = pageProblems(page);
    await page.goto(`${server.url}${path}`);
    return { page, problems };
  }

  it('widget: pre-chat form, a message the agent receives, the reply and typing shown', async () => {
    const email = `widget-${Date.now()}@example.com`;
    const { page, problems } = await open(`/demo/widget.html?project=${projectId}`);
    await page.locator('#title').filter({ hasText: 'Chat with Acme' }).waitFor();

    await page.locator('#prechat input[name=fullname]').fill('Grace Hopper');
    await page.locator('#prechat input[name=email]').fill(email);
    await page.locator('#prechat button[type=submit]').click();
    const lead = (await agentEvents.wait('lead.created', (e) => e.lead.email === email)).lead;
    expect(lead).toMatchObject({ fullname: 'Grace Hopper', kind: 'anonymous' });

    await page.locator('#text').fill('Is anyone there?');
    await page.locator('#composer button[type=submit]').click();
    const heard = await agentEvents.wait('message.created', (e) => e.message.text === 'Is anyone there?');
    expect(heard.message.sender).toMatchObject({ id: lead.userId, role: 'visitor' });
    await page.locator('#messages li[data-status=sent]').filter({ hasText: 'Is anyone there?' }).waitFor();

    // The visitor's typing reaches the agent (the widget sends it as the visitor types).
    await page.locator('#text').fill('still typ');
    await agentEvents.wait('typing', (e) => e.conversationId === heard.message.conversationId && e.typing);

    // The agent's typing and reply reach the widget.
    const conversationId = heard.message.conversationId;
    await agent.conversations.join(conversationId);
    agent.conversations.setTyping(conversationId, true);
    await page.locator('#typing').filter({ hasText: 'is typing' }).waitFor();
    await agent.conversations.send(conversationId, 'Yes, how can I help?');
    await page.locator('#messages li').filter({ hasText: 'Yes, how can I help?' }).waitFor();
    expect(
      await page.locator('#messages li').evaluateAll((items) => items.map((i) => i.getAttribute('data-status'))),
    ).toEqual(['sent', 'sent']);
    expect(await page.locator('#status').getAttribute('data-status')).toBe('connected');

    // Back on the page later: the same visitor, straight into the conversation.
    await page.reload();
    await page.locator('#messages li').filter({ hasText: 'Yes, how can I help?' }).waitFor();
    expect(await page.locator('#prechat').isHidden()).toBe(true);
    expect(problems).toEqual([]);
  });

  it('console: sign in, a contact appears live, open it, reply, search by email', async () => {
    const { page, problems } = await open('/demo/console.html');
    await page.locator('#login input[name=email]').fill(account.email);
    await page.locator('#login input[name=password]').fill('wrong password');
    await page.locator('#login button[type=submit]').click();
    await page.locator('#login-error').filter({ hasText: 'UNAUTHORIZED' }).waitFor();
    await page.locator('#login input[name=password]').fill(account.password);
    await page.locator('#login button[type=submit]').click();
    await page.locator('#app').waitFor();
    await page.locator('#status[data-status=connected]').waitFor();

    // A visitor (the Node SDK here) fills the pre-chat form and writes: the console shows it live.
    const email = `console-${Date.now()}@example.com`;
    const visitor: VisitorClient = createVisitorClient({ url: server.url, projectId, storage: memoryStorage() });
    clients.push(visitor);
    const visitorEvents = new SdkEvents<VisitorClientEvents>((e, l) => visitor.on(e, l), ['message', 'typing']);
    const { id: leadId } = await visitor.submitPreChatForm({ fullname: 'Alan Turing', email });
    const conversation = await visitor.startConversation({ text: 'I need a hand' });
    const contact = page.locator(`#contacts li[data-lead-id="${leadId}"]`);
    await contact.filter({ hasText: 'Alan Turing' }).waitFor();
    await page.locator('#events li').filter({ hasText: 'I need a hand' }).waitFor();

    // Open the contact, then its conversation, and reply.
    await contact.click();
    await page.locator('#contact-name').filter({ hasText: 'Alan Turing' }).waitFor();
    await page.locator(`#conversations li[data-conversation-id="${conversation.id}"]`).click();
    await page.locator('#messages li[data-role=visitor]').filter({ hasText: 'I need a hand' }).waitFor();
    await page.locator('#reply-text').fill('On my way');
    await visitorEvents.wait('typing', (e) => e.conversationId === conversation.id && e.typing);
    await page.locator('#reply button[type=submit]').click();
    const reply = await visitorEvents.wait(
      'message',
      (e) => e.message.text === 'On my way' && e.message.status === 'sent',
    );
    expect(reply.message.sender).toMatchObject({ id: account.id, role: 'agent' });
    await page.locator('#conversation-meta').filter({ hasText: 'assigned to you' }).waitFor();

    // Later messages land in the open conversation, in order.
    await conversation.send('Thanks!');
    await page.locator('#messages li').filter({ hasText: 'Thanks!' }).waitFor();
    expect(
      await page.locator('#messages li').evaluateAll((items) => items.map((i) => i.firstChild?.textContent)),
    ).toEqual(['I need a hand', 'On my way', 'Thanks!']);

    // A whole email address searches exactly.
    await page.locator('#search input[name=q]').fill(email.toUpperCase());
    await page.locator('#search button[type=submit]').click();
    await page
      .locator('#contacts-total')
      .filter({ hasText: /^1 contact$/ })
      .waitFor();
    expect(await page.locator('#contacts li').count()).toBe(1);
    // The wrong password's 401 is the only thing the browser logged.
    expect(problems.filter((p) => !p.includes('401'))).toEqual([]);
  });
});
