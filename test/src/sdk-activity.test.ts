import {
  createAgentClient,
  createVisitorClient,
  memoryStorage,
  type AgentClient,
  type AgentClientEvents,
  type VisitorClient,
} from '@parley/client-sdk';
import type { Browser } from 'playwright-core';
import { launchChromium, pageProblems } from './support/browser';
import { createAgent, createProject } from './support/fixtures';
import { startParley, type ParleyProcess } from './support/parley-process';
import { SdkEvents } from './support/sdk-events';
import { waitFor } from './support/wait';
import { startWebsite, type Website } from './support/website';

/** The page's globals as the in-page functions use them (the test is compiled without the DOM library). */
interface PageGlobals {
  Parley: typeof import('@parley/client-sdk');
  history: { pushState(state: unknown, title: string, url: string): void };
  visitor?: VisitorClient;
}

/** Visitor activity through the SDKs (issue 15): Node clients, and the browser bundle's own page views. */
describe('SDK: visitor activity', () => {
  let server: ParleyProcess;
  let website: Website;
  let projectId: string;
  let agent: AgentClient;
  let agentEvents: SdkEvents<AgentClientEvents>;
  const clients: { close(): void }[] = [];

  beforeAll(async () => {
    server = await startParley();
    website = await startWebsite({
      '/': `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>Shop home</title></head>
  <body><script src="${server.url}/sdk/parley.min.js"></script></body>
</html>`,
    });
    projectId = (await createProject(server.url, { allowedOrigins: [website.origin] })).project.id;
    const account = await createAgent(server.url, projectId);
    agent = createAgentClient({ url: server.url, token: account.token });
    agentEvents = new SdkEvents<AgentClientEvents>((e, l) => agent.on(e, l), ['lead.activity']);
    await agent.ready;
  }, 60_000);
  afterAll(async () => {
    clients.splice(0).forEach((c) => c.close());
    agent?.close();
    await website?.close();
    await server?.stop();
    server?.cleanup();
  });

  it('pageView() and track() are stored, heard live, listed and on the timeline', async () => {
    const visitor = createVisitorClient({ url: server.url, projectId, storage: memoryStorage() });
    clients.push(visitor);
    await visitor.ready;
    // Outside a browser there is no page to report by itself.
    await expect(visitor.pageView()).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const viewed = await visitor.pageView({ url: 'https://shop.example.com/pricing', title: 'Pricing' });
    const tracked = await visitor.track('signup', { plan: 'pro', seats: 3 });
    const heard = await agentEvents.wait('lead.activity', (e) => e.activity.id === tracked.activityId);
    expect(heard.activity).toMatchObject({ kind: 'event', name: 'signup', props: { plan: 'pro', seats: 3 } });
    await expect(visitor.track('bad\nname')).rejects.toMatchObject({ code: 'BAD_REQUEST' });

    const live = await agent.visitors.live();
    expect(live.items.find((v) => v.userId === visitor.user?.id)).toMatchObject({
      url: 'https://shop.example.com/pricing',
      title: 'Pricing',
      tabs: 1,
    });
    // A contact from the pre-chat form on: what the visitor did before is on its timeline.
    const lead = await visitor.submitPreChatForm({ fullname: 'Shopper' });
    const timeline = await waitFor('the earlier activity on the timeline', async () => {
      const page = await agent.leads.timeline(lead.id, { limit: 10 });
      return page.items.length >= 2 ? page : undefined;
    });
    expect(timeline.items.map((i) => i.id)).toEqual(expect.arrayContaining([viewed.activityId, tracked.activityId]));
  });

  it('the browser bundle reports the page on connection and on history navigation', async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await (await browser.newContext()).newPage();
      const problems = pageProblems(page);
      await page.goto(`${website.origin}/`);
      await page.waitForFunction(() => 'Parley' in globalThis);
      const userId = await page.evaluate(
        async ({ url, projectId: id }) => {
          const w = globalThis as unknown as PageGlobals;
          w.visitor = w.Parley.createVisitorClient({ url, projectId: id });
          await w.visitor.ready;
          return w.visitor.user?.id ?? '';
        },
        { url: server.url, projectId },
      );
      const first = await agentEvents.wait(
        'lead.activity',
        (e) => e.activity.userId === userId && e.activity.kind === 'page_view',
        20_000,
      );
      expect(first.activity).toMatchObject({ url: `${website.origin}/`, title: 'Shop home' });

      await page.evaluate(() => (globalThis as unknown as PageGlobals).history.pushState({}, '', '/cart?step=2'));
      await agentEvents.wait(
        'lead.activity',
        (e) => e.activity.userId === userId && e.activity.url === `${website.origin}/cart?step=2`,
        20_000,
      );
      await page.evaluate(() => (globalThis as unknown as PageGlobals).visitor?.track('checkout.start'));
      const event = await agentEvents.wait('lead.activity', (e) => e.activity.name === 'checkout.start', 20_000);
      // An event carries the page it happened on.
      expect(event.activity.url).toBe(`${website.origin}/cart?step=2`);
      await waitFor('the live list to show the page now', async () =>
        (await agent.visitors.live()).items.some(
          (v) => v.userId === userId && v.url === `${website.origin}/cart?step=2`,
        ),
      );
      expect(problems).toEqual([]);
    } finally {
      await browser?.close();
    }
  }, 90_000);
});
