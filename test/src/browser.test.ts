import {
  createAgentClient,
  type AgentClient,
  type AgentClientEvents,
  type VisitorClient,
  type VisitorConversation,
} from '@parley/client-sdk';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, pageProblems } from './support/browser';
import { anonymousVisitor, createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { REPO_ROOT } from './support/paths';
import { startParley, type ParleyProcess } from './support/parley-process';
import { SdkEvents } from './support/sdk-events';
import { waitFor } from './support/wait';
import { startWebsite, type Website } from './support/website';

/**
 * The page's globals as the test's in-page functions use them. The test is compiled without the DOM
 * library, so each function passed to `page.evaluate` reads them through `globalThis` with this type.
 */
interface PageGlobals {
  Parley: typeof import('@parley/client-sdk');
  location: { href: string };
  localStorage: { setItem(key: string, value: string): void };
  setTimeout(run: () => void, ms: number): unknown;
  visitor?: VisitorClient;
  conversation?: VisitorConversation;
}

describe('the browser bundle in headless Chromium', () => {
  let server: ParleyProcess;
  let website: Website;
  let browser: Browser;
  let context: BrowserContext;
  let projectId: string;
  let account: TestAgent;
  let agent: AgentClient;
  let agentEvents: SdkEvents<AgentClientEvents>;

  beforeAll(async () => {
    server = await startParley();
    // A plain HTML page on the customer's own origin that loads the SDK from the Parley server.
    website = await startWebsite({
      '/': `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>A customer's website</title></head>
  <body>
    <h1>Welcome</h1>
    <script src="${server.url}/sdk/parley.min.js"></script>
  </body>
</html>`,
    });
    projectId = (await createProject(server.url, { allowedOrigins: [website.origin] })).project.id;
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
    // A fresh profile per test: its own localStorage, so its own visitor.
    context = await browser.newContext();
  });
  afterEach(async () => {
    await context?.close();
  });
  afterAll(async () => {
    agent?.close();
    await browser?.close();
    await website?.close();
    await server?.stop();
    server?.cleanup();
  });

  async function openWebsite(): Promise<{ page: Page; problems: string[] }> {
    const page = await context.newPage();
    const problems = pageProblems(page);
    await page.goto(`${website.origin}/`);
    await page.waitForFunction(() => 'Parley' in globalThis);
    return { page, problems };
  }

  it('serves the bundle at /sdk/parley.min.js', async () => {
    const res = await client(server.url).get('/sdk/parley.min.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.text).toContain('createVisitorClient');
  });

  it('loads from a plain HTML page on another origin and chats with the server', async () => {
    const { page, problems } = await openWebsite();
    expect(await page.evaluate(() => Object.keys((globalThis as unknown as PageGlobals).Parley).sort())).toEqual(
      ['ParleyError', 'createAgentClient', 'createVisitorClient', 'memoryStorage'].sort(),
    );

    const chat = await page.evaluate(
      async ({ url, projectId }) => {
        const w = globalThis as unknown as PageGlobals;
        const visitor = w.Parley.createVisitorClient({ url, projectId });
        await visitor.ready;
        const conversation = await visitor.startConversation({ attributes: { page: w.location.href } });
        w.visitor = visitor;
        w.conversation = conversation;
        await conversation.send('Hello from Chromium');
        return { userId: visitor.user?.id ?? '', conversationId: conversation.id };
      },
      { url: server.url, projectId },
    );

    const heard = await agentEvents.wait('message.created', (e) => e.message.text === 'Hello from Chromium');
    expect(heard.message).toMatchObject({ conversationId: chat.conversationId, sender: { id: chat.userId } });
    await agent.conversations.join(chat.conversationId);
    await agent.conversations.send(chat.conversationId, 'Hello from the agent');
    await page.waitForFunction(() =>
      (globalThis as unknown as PageGlobals).conversation?.messages.some(
        (m) => m.text === 'Hello from the agent' && m.status === 'sent',
      ),
    );
    const texts = await page.evaluate(() =>
      (globalThis as unknown as PageGlobals).conversation?.messages.map((m) => [m.status, m.text]),
    );
    expect(texts).toEqual([
      ['sent', 'Hello from Chromium'],
      ['sent', 'Hello from the agent'],
    ]);

    // A reload keeps the visitor: the token lives in the browser's localStorage.
    await page.reload();
    await page.waitForFunction(() => 'Parley' in globalThis);
    const again = await page.evaluate(
      async ({ url, projectId }) => {
        const visitor = (globalThis as unknown as PageGlobals).Parley.createVisitorClient({ url, projectId });
        await visitor.ready;
        const [latest] = await visitor.conversations();
        const history = latest ? await latest.history() : [];
        return { userId: visitor.user?.id, texts: history.map((m) => m.text) };
      },
      { url: server.url, projectId },
    );
    expect(again).toEqual({ userId: chat.userId, texts: ['Hello from Chromium', 'Hello from the agent'] });
    expect(problems).toEqual([]);
  });

  it("reports a project's refusal of the page's origin as a ParleyError", async () => {
    const other = (await createProject(server.url, { allowedOrigins: ['https://shop.example.com'] })).project.id;
    const { page } = await openWebsite();
    const outcome = await page.evaluate(
      async ({ url, projectId }) => {
        const { Parley } = globalThis as unknown as PageGlobals;
        const visitor = Parley.createVisitorClient({ url, projectId });
        try {
          await visitor.ready;
          return 'accepted';
        } catch (error) {
          return error instanceof Parley.ParleyError ? error.code : `not a ParleyError: ${String(error)}`;
        } finally {
          visitor.close();
        }
      },
      { url: server.url, projectId: other },
    );
    expect(outcome).toBe('FORBIDDEN');
  });

  it('stops a returning visitor whose origin the project now refuses: ready, sends and calls reject with FORBIDDEN', async () => {
    const other = (await createProject(server.url, { allowedOrigins: ['https://shop.example.com'] })).project.id;
    // A token from an earlier visit (signed in from Node, which sends no Origin), kept in the page's storage.
    const earlier = await anonymousVisitor(server.url, other);
    const { page } = await openWebsite();
    const outcome = await page.evaluate(
      async ({ url, projectId, session }) => {
        const w = globalThis as unknown as PageGlobals;
        w.localStorage.setItem(
          `parley:${projectId}:visitor`,
          JSON.stringify({ token: session.token, user: session.user, expiresAt: Date.parse(session.expiresAt) }),
        );
        const visitor = w.Parley.createVisitorClient({ url, projectId });
        const statuses: string[] = [];
        const errors: string[] = [];
        visitor.on('status', (s) => statuses.push(s));
        visitor.on('error', (e) => errors.push(e.code));
        // Far longer than a refusal takes: only a client left hanging reaches it.
        const settled = (p: Promise<unknown>) =>
          Promise.race([
            p.then(
              () => 'resolved',
              (e: { code?: string }) => `rejected ${e.code}`,
            ),
            new Promise<string>((resolve) => w.setTimeout(() => resolve('still pending'), 8000)),
          ]);
        const ready = await settled(visitor.ready);
        const conversation = visitor.conversation('000000000000000000000000');
        const send = await settled(conversation.send('hello?'));
        const list = await settled(visitor.conversations());
        const messages = conversation.messages.map((m) => m.status);
        visitor.close();
        return { ready, send, list, messages, statuses, errors };
      },
      { url: server.url, projectId: other, session: earlier },
    );
    expect(outcome).toEqual({
      ready: 'rejected FORBIDDEN',
      send: 'rejected FORBIDDEN',
      list: 'rejected FORBIDDEN',
      messages: ['failed'],
      statuses: ['connecting', 'offline'],
      errors: ['FORBIDDEN'],
    });
  });

  it('makes two tabs opened at the same moment one visitor', async () => {
    const [first, second] = [await openWebsite(), await openWebsite()];
    const open = ({ url, projectId }: { url: string; projectId: string }) => {
      const visitor = (globalThis as unknown as PageGlobals).Parley.createVisitorClient({ url, projectId });
      return visitor.ready.then(() => visitor.user?.id ?? '');
    };
    const args = { url: server.url, projectId };
    const [a, b] = await Promise.all([first.page.evaluate(open, args), second.page.evaluate(open, args)]);
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(b).toBe(a);
    expect([...first.problems, ...second.problems]).toEqual([]);
  });

  it("runs the README's visitor widget as written, without an unhandled rejection", async () => {
    const readme = readFileSync(path.join(REPO_ROOT, 'client-sdk', 'README.md'), 'utf8');
    const example = /## A visitor widget, complete[\s\S]*?```html\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(example).toContain('createVisitorClient');
    // A project of its own (any origin), and a console listening to it.
    const own = (await createProject(server.url)).project.id;
    const listener = createAgentClient({ url: server.url, token: (await createAgent(server.url, own)).token });
    const heard = new SdkEvents<AgentClientEvents>((e, l) => listener.on(e, l), ['message.created']);
    const page = example.replaceAll('https://chat.example.com', server.url).replaceAll('PROJECT_ID', own);
    const site = await startWebsite({ '/': `<!doctype html><html lang="en"><body>${page}</body></html>` });
    try {
      await listener.ready;
      const tab = await context.newPage();
      const problems = pageProblems(tab);
      await tab.goto(`${site.origin}/`);
      await tab.locator('#status', { hasText: 'connected' }).waitFor();

      // A pre-chat form the server refuses (a name over 200 characters): shown, not thrown.
      await tab.fill('#prechat [name=fullname]', 'x'.repeat(201));
      await tab.click('#prechat button');
      await waitFor(
        'the refusal to show',
        async () =>
          problems.length > 0 || (await tab.locator('#problem').allTextContents()).join().includes('BAD_REQUEST'),
      );
      expect(problems).toEqual([]);

      // The first message starts the conversation; the agent hears it.
      await tab.fill('#text', 'Hello from the README');
      await tab.press('#text', 'Enter');
      await heard.wait('message.created', (e) => e.message.text === 'Hello from the README');
      await tab.locator('#messages li', { hasText: 'Hello from the README' }).waitFor();

      // A message the server refuses shows as failed, and can be deleted.
      await tab.fill('#text', 'y'.repeat(4001));
      await tab.press('#text', 'Enter');
      const failed = tab.locator('#messages li', { hasText: 'not sent' });
      await failed.waitFor();
      await failed.locator('button', { hasText: 'Delete' }).click();
      await failed.waitFor({ state: 'detached' });
      expect(await tab.locator('#messages li').count()).toBe(1);
      expect(problems).toEqual([]);
    } finally {
      listener.close();
      await site.close();
    }
  });
});
