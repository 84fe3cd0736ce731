import type {
  ConversationChange,
  ConversationUpdatedEvent,
  LeadMergedResponse,
  MessageSendResult,
  WebhookDeliveryResponse,
  WebhookDisabledEvent,
  WebhookPayload,
  WebhookResponse,
  WebhookSecretRotatedResponse,
} from '@parley/protocol';
import { webhookPayloadSchema } from '@parley/protocol/schemas';
import { loadConfig } from '@parley/server/dist/config';
import { startServer, type RunningServer } from '@parley/server/dist/main';
import { createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { TEST_ADMIN_TOKEN, testServerEnv } from './support/parley-process';
import { connectAgent, ok } from './support/sockets';
import { makeTempDir, removeDir } from './support/temp-dir';
import { waitFor } from './support/wait';
import { eventOf, ReceiverProcess, verifyWithStandardWebhooks, type ReceivedRequest } from './support/webhook-receiver';
import { createWebhook, deliveriesOf, settledDeliveries, visitorWithConversation } from './support/webhooks';

async function startTestServer(env: Record<string, string> = {}): Promise<{ server: RunningServer; dataDir: string }> {
  const dataDir = makeTempDir();
  const server = await startServer(
    loadConfig({
      ...testServerEnv(dataDir),
      WEBHOOK_RETRY_DELAYS: '1s,1s,1s,1s,1s,1s,1s,1s',
      WEBHOOK_TIMEOUT: '3s',
      ...(process.env['MONGODB_URI'] ? { MONGODB_URI: process.env['MONGODB_URI'] } : {}),
      ...env,
    }),
  );
  return { server, dataDir };
}

const webhookIds = (requests: ReceivedRequest[]) => requests.map((r) => r.headers['webhook-id']);

describe('webhook deliveries', () => {
  let server: RunningServer;
  let dataDir: string;
  let projectId: string;
  let owner: TestAgent;
  const receivers: ReceiverProcess[] = [];
  const receiver = async (plan = '') => {
    const r = await ReceiverProcess.start(plan);
    receivers.push(r);
    return r;
  };

  beforeAll(async () => {
    ({ server, dataDir } = await startTestServer());
    projectId = (await createProject(server.url)).project.id;
    owner = await createAgent(server.url, projectId, 'owner');
  }, 120_000);

  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.stop()));
    await server?.stop();
    removeDir(dataDir);
  });

  it('retries 500, 500, 200: exactly three attempts, one webhook-id, every signature verifying', async () => {
    const hook = await receiver('500,500,200');
    const { webhook, secret } = await createWebhook(server.url, projectId, owner.token, hook.url, ['message.created']);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const { socket, conversationId } = await visitorWithConversation(server.url, projectId);
    const sent = await ok<MessageSendResult>(socket, 'message:send', {
      conversationId,
      clientMessageId: 'retry-1',
      text: 'hello',
    });
    socket.close();

    const requests = await hook.waitForRequests(3);
    await settledDeliveries(server.url, projectId, owner.token, webhook.id);
    expect(hook.requests).toHaveLength(3);
    expect(new Set(webhookIds(requests)).size).toBe(1);
    for (const request of requests) {
      expect(verifyWithStandardWebhooks(secret, request)).toEqual(eventOf(request));
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['user-agent']).toMatch(/^Parley-Webhooks\/\d+\.\d+\.\d+/);
      expect(Number(request.headers['webhook-timestamp'])).toBeGreaterThan(Date.now() / 1000 - 60);
    }
    const event = eventOf(requests[0] as ReceivedRequest);
    expect(event).toEqual({
      type: 'message.created',
      timestamp: expect.any(String),
      data: { message: sent.message, projectId },
    });

    const log = await deliveriesOf(server.url, projectId, owner.token, webhook.id);
    expect(log.items).toEqual([
      expect.objectContaining({
        eventId: requests[0]?.headers['webhook-id'],
        eventType: 'message.created',
        status: 'delivered',
        attempts: 3,
        lastStatusCode: 200,
        deliveredAt: expect.any(String),
      }),
    ]);
    expect(log.nextCursor).toBeNull();
  }, 120_000);

  it('sends every event type with what agents get, plus projectId, per lead in order', async () => {
    const hook = await receiver();
    const { secret, webhook } = await createWebhook(server.url, projectId, owner.token, hook.url, ['*']);
    const agent = await connectAgent(server.url, owner.token);
    const first = await visitorWithConversation(server.url, projectId, 'first message');
    const second = await visitorWithConversation(server.url, projectId);
    await ok(agent, 'conversation:join', { conversationId: first.conversationId });
    const leads = await client(server.url).get<{ items: { id: string; userId: string }[] }>(
      `/v1/projects/${projectId}/leads?limit=100`,
      { token: owner.token },
    );
    const leadOf = (userId: string) => leads.body.items.find((l) => l.userId === userId)?.id as string;
    const [firstLead, secondLead] = [leadOf(first.userId), leadOf(second.userId)];
    await client(server.url).patch(`/v1/projects/${projectId}/leads/${firstLead}`, {
      token: owner.token,
      body: { email: 'ada@example.com' },
    });
    const merged = await client(server.url).post<LeadMergedResponse>(
      `/v1/projects/${projectId}/leads/${firstLead}/merge`,
      { token: owner.token, body: { sourceLeadIds: [secondLead] } },
    );
    expect(merged.status).toBe(200);
    expect(
      (await client(server.url).delete(`/v1/projects/${projectId}/leads/${firstLead}`, { token: owner.token })).status,
    ).toBe(204);
    first.socket.close();
    second.socket.close();
    agent.close();

    await settledDeliveries(server.url, projectId, owner.token, webhook.id);
    const events = hook.requests.map((r) => {
      verifyWithStandardWebhooks(secret, r);
      // What the OpenAPI document's `webhooks` promise, exactly (objects are strict).
      webhookPayloadSchema.parse(eventOf(r));
      return eventOf(r);
    });
    expect(events.every((e) => e.data.projectId === projectId)).toBe(true);
    const ofFirstLead = events
      .filter((e) => {
        const d = e.data as {
          lead?: { id: string };
          conversation?: { leadId: string };
          leadId?: string;
          message?: unknown;
        };
        return (
          d.lead?.id === firstLead ||
          d.leadId === firstLead ||
          d.conversation?.leadId === firstLead ||
          (e.type === 'message.created' &&
            (e.data as { message: { conversationId: string } }).message.conversationId === first.conversationId)
        );
      })
      .map((e) => e.type);
    // The first lead's events in the order they happened (the merge's conversation.updated names the
    // moved conversation, now the first lead's).
    expect(ofFirstLead).toEqual([
      'lead.created',
      'conversation.created',
      'message.created',
      'conversation.updated',
      'lead.updated',
      'lead.merged',
      'conversation.updated',
      'lead.deleted',
    ]);
    const byType = (type: WebhookPayload['type']) => events.filter((e) => e.type === type).map((e) => e.data);
    expect(byType('lead.updated')).toContainEqual(
      expect.objectContaining({ changes: ['email'], lead: expect.objectContaining({ email: 'ada@example.com' }) }),
    );
    expect(byType('lead.merged')).toEqual([expect.objectContaining({ mergedLeadIds: [secondLead] })]);
    expect(byType('lead.deleted')).toEqual([{ leadId: firstLead, projectId }]);
    expect(byType('conversation.created')).toContainEqual(
      expect.objectContaining({
        conversation: expect.objectContaining({ id: first.conversationId }),
        lead: expect.anything(),
      }),
    );
  }, 120_000);

  it("sends the workflow's changes as conversation.updated, each as agents get it, in order", async () => {
    const hook = await receiver();
    const { secret } = await createWebhook(server.url, projectId, owner.token, hook.url, ['conversation.updated']);
    const colleague = await createAgent(server.url, projectId, 'agent');
    const agent = await connectAgent(server.url, owner.token);
    const { socket, conversationId } = await visitorWithConversation(server.url, projectId, 'hello');
    const pushes: ConversationUpdatedEvent[] = [];
    agent.on('conversation.updated', (event: ConversationUpdatedEvent) => {
      if (event.conversation.id === conversationId) pushes.push(event);
    });
    const id = { conversationId };
    await ok(agent, 'conversation:join', id);
    await ok(agent, 'conversation:pend', id);
    await ok(agent, 'conversation:snooze', { ...id, until: new Date(Date.now() + 3_600_000).toISOString() });
    await ok(agent, 'conversation:resolve', id);
    await ok(agent, 'conversation:reopen', id);
    await ok(agent, 'conversation:transfer', { ...id, agentId: colleague.id });
    await ok(agent, 'conversation:resolve', id);
    // The visitor writes into the resolved conversation: it opens again.
    await ok(socket, 'message:send', { conversationId, clientMessageId: 'one-more', text: 'one more thing' });
    socket.close();
    agent.close();

    const requests = await hook.waitForRequests(8);
    const events = requests.map((request) => {
      verifyWithStandardWebhooks(secret, request);
      return webhookPayloadSchema.parse(eventOf(request));
    });
    expect(events.map((e) => e.type)).toEqual(Array(8).fill('conversation.updated'));
    const sent = events.map((e) => e.data as ConversationUpdatedEvent & { projectId: string });
    const by = { type: 'agent' as const, id: owner.id, name: expect.any(String) as string };
    expect(sent.map((d) => d.change)).toEqual<ConversationChange[]>([
      { by, reason: 'manual' },
      { by, previousStatus: 'open' },
      { by, previousStatus: 'pending' },
      { by, previousStatus: 'snoozed' },
      { by, previousStatus: 'resolved' },
      { by: { type: 'agent', id: owner.id, name: expect.any(String) }, reason: 'transfer' },
      { by, previousStatus: 'open' },
      { by: { type: 'visitor', id: expect.any(String) }, previousStatus: 'resolved' },
    ]);
    expect(sent.map((d) => d.conversation.status)).toEqual([
      'open',
      'pending',
      'snoozed',
      'resolved',
      'open',
      'open',
      'resolved',
      'open',
    ]);
    // What the agents' sockets got, plus projectId (the status note is never sent).
    await waitFor('every push', () => pushes.length >= 8);
    expect(sent).toEqual(pushes.map((push) => ({ ...push, projectId })));
  }, 120_000);

  it('gives a receiver that was down everything once it is back, per lead in order', async () => {
    const hook = await receiver();
    const { webhook } = await createWebhook(server.url, projectId, owner.token, hook.url, ['message.created']);
    await hook.stop();
    const visitors = await Promise.all([1, 2, 3].map(() => visitorWithConversation(server.url, projectId)));
    for (let i = 1; i <= 5; i++)
      for (const [v, visitor] of visitors.entries())
        await ok(visitor.socket, 'message:send', {
          conversationId: visitor.conversationId,
          clientMessageId: `down-${v}-${i}`,
          text: `${v}:${i}`,
        });
    // Down while they were tried: each lead's first failed and holds back its others.
    await waitFor(
      'failed attempts',
      async () => {
        const page = await deliveriesOf(server.url, projectId, owner.token, webhook.id, '?limit=100');
        return page.items.filter((d) => d.attempts > 0 && d.status === 'pending').length >= 3;
      },
      { timeoutMs: 60_000 },
    );
    const log = await deliveriesOf(server.url, projectId, owner.token, webhook.id, '?limit=100');
    expect(log.items.filter((d) => d.attempts > 0)).toHaveLength(3);
    await hook.restart();
    await hook.waitForRequests(15);
    await settledDeliveries(server.url, projectId, owner.token, webhook.id);
    for (const visitor of visitors) visitor.socket.close();
    const texts = hook.requests.map((r) => (eventOf(r).data as { message: { text: string } }).message.text);
    expect(new Set(texts).size).toBe(15);
    for (const v of [0, 1, 2])
      expect(texts.filter((t) => t.startsWith(`${v}:`))).toEqual([1, 2, 3, 4, 5].map((i) => `${v}:${i}`));
  }, 120_000);

  it('turns a webhook off at a 410 and tells the agents; nothing more is sent to it', async () => {
    const hook = await receiver('410');
    const { webhook } = await createWebhook(server.url, projectId, owner.token, hook.url, ['message.created']);
    const agent = await connectAgent(server.url, owner.token);
    const disabled = new Promise<WebhookDisabledEvent>((resolve) => agent.once('webhook.disabled', resolve));
    const { socket, conversationId } = await visitorWithConversation(server.url, projectId);
    await ok(socket, 'message:send', { conversationId, clientMessageId: 'gone-1', text: 'one' });
    const event = await disabled;
    expect(event).toEqual({
      reason: 'gone',
      webhook: expect.objectContaining({ id: webhook.id, active: false, disabledReason: 'gone' }),
    });
    await ok(socket, 'message:send', { conversationId, clientMessageId: 'gone-2', text: 'two' });
    socket.close();
    agent.close();
    const log = await deliveriesOf(server.url, projectId, owner.token, webhook.id);
    expect(log.items).toEqual([expect.objectContaining({ status: 'failed', attempts: 1, lastStatusCode: 410 })]);
    expect(hook.requests).toHaveLength(1);
    const read = await client(server.url).get<WebhookResponse>(`/v1/projects/${projectId}/webhooks/${webhook.id}`, {
      token: owner.token,
    });
    expect(read.body.webhook).toMatchObject({ active: false, disabledReason: 'gone' });
  }, 120_000);

  it('signs with both secrets for a day after a rotation; each one verifies on its own', async () => {
    const hook = await receiver();
    const { webhook, secret: before } = await createWebhook(server.url, projectId, owner.token, hook.url, [
      'conversation.created',
    ]);
    const rotated = await client(server.url).post<WebhookSecretRotatedResponse>(
      `/v1/projects/${projectId}/webhooks/${webhook.id}/secret/rotate`,
      { token: owner.token },
    );
    expect(rotated.status).toBe(200);
    const after = rotated.body.secret;
    expect(after).not.toBe(before);
    expect(Date.parse(rotated.body.previousSecretExpiresAt) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
    (await visitorWithConversation(server.url, projectId)).socket.close();
    const [request] = await hook.waitForRequests(1);
    const signatures = (request?.headers['webhook-signature'] ?? '').split(' ');
    expect(signatures).toHaveLength(2);
    expect(signatures.every((s) => s.startsWith('v1,'))).toBe(true);
    expect(() => verifyWithStandardWebhooks(before, request as ReceivedRequest)).not.toThrow();
    expect(() => verifyWithStandardWebhooks(after, request as ReceivedRequest)).not.toThrow();
    const stranger = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
    expect(() => verifyWithStandardWebhooks(stranger, request as ReceivedRequest)).toThrow();
  }, 120_000);

  it('sends webhook.test, redelivers with the same webhook-id, and keeps a paged log', async () => {
    const hook = await receiver();
    const { webhook, secret } = await createWebhook(server.url, projectId, owner.token, hook.url, ['lead.deleted']);
    const tested = await client(server.url).post<WebhookDeliveryResponse>(
      `/v1/projects/${projectId}/webhooks/${webhook.id}/test`,
      { token: TEST_ADMIN_TOKEN },
    );
    expect(tested.status).toBe(202);
    expect(tested.body.delivery).toMatchObject({ eventType: 'webhook.test', status: 'pending', attempts: 0 });
    const [first] = await hook.waitForRequests(1);
    expect(verifyWithStandardWebhooks(secret, first as ReceivedRequest)).toEqual({
      type: 'webhook.test',
      timestamp: expect.any(String),
      data: { projectId, webhookId: webhook.id },
    });
    await settledDeliveries(server.url, projectId, owner.token, webhook.id);
    const again = await client(server.url).post<WebhookDeliveryResponse>(
      `/v1/projects/${projectId}/webhooks/${webhook.id}/deliveries/${tested.body.delivery.id}/redeliver`,
      { token: owner.token },
    );
    expect(again.status).toBe(202);
    const [, second] = await hook.waitForRequests(2);
    expect(second?.headers['webhook-id']).toBe(first?.headers['webhook-id']);
    expect(second?.body).toBe(first?.body);

    for (let i = 0; i < 3; i++)
      await client(server.url).post(`/v1/projects/${projectId}/webhooks/${webhook.id}/test`, { token: owner.token });
    await hook.waitForRequests(5);
    await settledDeliveries(server.url, projectId, owner.token, webhook.id);
    const page1 = await deliveriesOf(server.url, projectId, owner.token, webhook.id, '?limit=2');
    expect(page1.items).toHaveLength(2);
    const page2 = await deliveriesOf(
      server.url,
      projectId,
      owner.token,
      webhook.id,
      `?limit=2&cursor=${page1.nextCursor}`,
    );
    expect(page2.items).toHaveLength(2);
    expect(page2.nextCursor).toBeNull();
    const ids = [...page1.items, ...page2.items].map((d) => d.id);
    expect(new Set(ids).size).toBe(4);
    const delivered = await deliveriesOf(server.url, projectId, owner.token, webhook.id, '?status=delivered&limit=100');
    expect(delivered.items).toHaveLength(4);
    expect(delivered.items.find((d) => d.id === tested.body.delivery.id)?.attempts).toBe(2);
    const failed = await deliveriesOf(server.url, projectId, owner.token, webhook.id, '?status=failed');
    expect(failed.items).toHaveLength(0);
  }, 120_000);

  it('follows no redirect and keeps at most 64 KB of an answer', async () => {
    // Receivers that always answer so: the last attempt's answer is what the log keeps.
    const redirecting = await receiver(Array(9).fill('302').join(','));
    const talkative = await receiver(Array(9).fill('big500').join(','));
    const redirect = await createWebhook(server.url, projectId, owner.token, redirecting.url, ['lead.deleted']);
    const big = await createWebhook(server.url, projectId, owner.token, talkative.url, ['lead.deleted']);
    for (const { webhook } of [redirect, big])
      await client(server.url).post(`/v1/projects/${projectId}/webhooks/${webhook.id}/test`, { token: owner.token });
    await settledDeliveries(server.url, projectId, owner.token, redirect.webhook.id);
    await settledDeliveries(server.url, projectId, owner.token, big.webhook.id);
    // Nine attempts (one, then one per retry delay), every one to the webhook's own URL.
    expect(redirecting.requests.map((r) => r.path)).toEqual(Array(9).fill('/hook'));
    const [redirected] = (await deliveriesOf(server.url, projectId, owner.token, redirect.webhook.id)).items;
    expect(redirected).toMatchObject({ status: 'failed', attempts: 9, lastStatusCode: 302, lastError: 'answered 302' });
    const [answered] = (await deliveriesOf(server.url, projectId, owner.token, big.webhook.id)).items;
    expect(answered).toMatchObject({ status: 'failed', attempts: 9, lastStatusCode: 500 });
    expect(answered?.lastResponseBody).toBe('x'.repeat(64 * 1024));
  }, 120_000);

  it("never sends a project's events to another project's webhook, nor lets its owners near them", async () => {
    const other = (await createProject(server.url)).project.id;
    const otherOwner = await createAgent(server.url, other, 'owner');
    const hookA = await receiver();
    const hookB = await receiver();
    const a = await createWebhook(server.url, projectId, owner.token, hookA.url, ['*']);
    const b = await createWebhook(server.url, other, otherOwner.token, hookB.url, ['*']);
    const inA = await visitorWithConversation(server.url, projectId, 'in A');
    const inB = await visitorWithConversation(server.url, other, 'in B');
    inA.socket.close();
    inB.socket.close();
    await hookA.waitForRequests(3);
    await hookB.waitForRequests(3);
    await settledDeliveries(server.url, projectId, owner.token, a.webhook.id);
    await settledDeliveries(server.url, other, otherOwner.token, b.webhook.id);
    expect(hookA.requests.map((r) => eventOf(r).data.projectId)).toEqual([projectId, projectId, projectId]);
    expect(hookB.requests.map((r) => eventOf(r).data.projectId)).toEqual([other, other, other]);
    // B's owner cannot read, change or test A's webhook, even naming A's project in the path.
    const refused = await client(server.url).get(`/v1/projects/${projectId}/webhooks/${a.webhook.id}`, {
      token: otherOwner.token,
    });
    expect(refused.status).toBe(403);
    const elsewhere = await client(server.url).get(`/v1/projects/${other}/webhooks/${a.webhook.id}`, {
      token: otherOwner.token,
    });
    expect(elsewhere.status).toBe(404);
  }, 120_000);
});

describe('webhooks that fail for long', () => {
  let server: RunningServer;
  let dataDir: string;
  const receivers: ReceiverProcess[] = [];

  beforeAll(async () => {
    ({ server, dataDir } = await startTestServer({
      WEBHOOK_DISABLE_AFTER: '2s',
      WEBHOOK_RETRY_DELAYS: '1s,1s,1s,1s,1s,1s,1s,1s,1s,1s',
    }));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.stop()));
    await server?.stop();
    removeDir(dataDir);
  });

  it('are turned off after failing everything for WEBHOOK_DISABLE_AFTER, and agents hear it', async () => {
    const projectId = (await createProject(server.url)).project.id;
    const owner = await createAgent(server.url, projectId, 'owner');
    const hook = await ReceiverProcess.start(Array(30).fill('500').join(','));
    receivers.push(hook);
    const { webhook } = await createWebhook(server.url, projectId, owner.token, hook.url, ['message.created']);
    const agent = await connectAgent(server.url, owner.token);
    const disabled = new Promise<WebhookDisabledEvent>((resolve) => agent.once('webhook.disabled', resolve));
    const { socket, conversationId } = await visitorWithConversation(server.url, projectId);
    await ok(socket, 'message:send', { conversationId, clientMessageId: 'failing-1', text: 'one' });
    await ok(socket, 'message:send', { conversationId, clientMessageId: 'failing-2', text: 'two' });
    expect(await disabled).toMatchObject({ reason: 'failing', webhook: { id: webhook.id, active: false } });
    socket.close();
    agent.close();
    // The waiting one failed with it; the one in flight failed on its own.
    await settledDeliveries(server.url, projectId, owner.token, webhook.id);
    const log = await deliveriesOf(server.url, projectId, owner.token, webhook.id);
    expect(log.items.map((d) => d.status)).toEqual(['failed', 'failed']);
    // Turned back on, it starts afresh.
    const back = await client(server.url).patch<WebhookResponse>(`/v1/projects/${projectId}/webhooks/${webhook.id}`, {
      token: owner.token,
      body: { active: true },
    });
    expect(back.body.webhook).toEqual(expect.objectContaining({ active: true }));
    expect(back.body.webhook.disabledReason).toBeUndefined();
  }, 120_000);
});
