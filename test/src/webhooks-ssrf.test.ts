import type { WebhookCreatedResponse } from '@parley/protocol';
import { loadConfig } from '@parley/server/dist/config';
import { startServer, type RunningServer } from '@parley/server/dist/main';
import { createAgent, createProject, type TestAgent } from './support/fixtures';
import { client } from './support/http';
import { testServerEnv } from './support/parley-process';
import { makeTempDir, removeDir } from './support/temp-dir';
import { waitFor } from './support/wait';
import { ReceiverProcess } from './support/webhook-receiver';
import { createWebhook, deliveriesOf, visitorWithConversation } from './support/webhooks';

function config(dataDir: string, allowPrivate: boolean) {
  return loadConfig({
    ...testServerEnv(dataDir),
    WEBHOOK_RETRY_DELAYS: '1s',
    WEBHOOK_ALLOW_PRIVATE: String(allowPrivate),
    ...(process.env['MONGODB_URI'] ? { MONGODB_URI: process.env['MONGODB_URI'] } : {}),
  });
}

/**
 * Where webhooks may not go, as production decides it (WEBHOOK_ALLOW_PRIVATE=false): refused when
 * a webhook is created or changed, and again at each delivery, on the addresses actually used.
 */
describe('webhook destinations (SSRF)', () => {
  let dataDir: string;
  let server: RunningServer | undefined;
  let projectId: string;
  let owner: TestAgent;
  let receiver: ReceiverProcess;

  beforeAll(async () => {
    dataDir = makeTempDir();
    receiver = await ReceiverProcess.start();
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.stop();
    removeDir(dataDir);
  });

  it('refuses loopback, private, link-local, metadata and unresolvable destinations, and plain http', async () => {
    server = await startServer(config(dataDir, false));
    projectId = (await createProject(server.url)).project.id;
    owner = await createAgent(server.url, projectId, 'owner');
    const refused = [
      'http://93.184.216.34/hook',
      'https://127.0.0.1/hook',
      'https://127.1.2.3:8443/hook',
      'https://localhost/hook',
      'https://10.0.0.7/hook',
      'https://172.20.1.1/hook',
      'https://192.168.1.10/hook',
      'https://169.254.169.254/latest/meta-data/',
      'https://100.100.100.200/hook',
      'https://0.0.0.0/hook',
      'https://[::1]/hook',
      'https://[fd00:ec2::254]/hook',
      'https://[fe80::1]/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'https://[::ffff:a9fe:a9fe]/hook',
      'https://[64:ff9b::a00:1]/hook',
      'https://no-such-host.invalid/hook',
    ];
    for (const url of refused) {
      const res = await client(server.url).post<{ error: { code: string; details: { fields: { field: string }[] } } }>(
        `/v1/projects/${projectId}/webhooks`,
        { token: owner.token, body: { url, events: ['*'] } },
      );
      expect({ url, status: res.status }).toEqual({ url, status: 400 });
      expect(res.body.error.details.fields.map((f) => f.field)).toEqual(['url']);
    }
    // A public address is fine (an IP literal: nothing to resolve).
    const publicHook = await client(server.url).post<WebhookCreatedResponse>(`/v1/projects/${projectId}/webhooks`, {
      token: owner.token,
      body: { url: 'https://93.184.216.34/hook', events: ['lead.deleted'] },
    });
    expect(publicHook.status).toBe(201);
    // A change to a refused URL is refused too, and changes nothing.
    const changed = await client(server.url).patch(`/v1/projects/${projectId}/webhooks/${publicHook.body.webhook.id}`, {
      token: owner.token,
      body: { url: 'https://[::1]:9/hook' },
    });
    expect(changed.status).toBe(400);
    await client(server.url).delete(`/v1/projects/${projectId}/webhooks/${publicHook.body.webhook.id}`, {
      token: owner.token,
    });
    await server.stop();
    server = undefined;
  }, 120_000);

  it('checks again at each delivery: a destination allowed when created is refused when sent to', async () => {
    // Created where private destinations are allowed (as development is), to a name that
    // resolves to this machine…
    server = await startServer(config(dataDir, true));
    const target = `https://localhost:${receiver.port}/hook`;
    const { webhook } = await createWebhook(server.url, projectId, owner.token, target, ['message.created']);
    await server.stop();
    // …then the same data served as production serves it: the delivery is refused, the receiver
    // never hears of it.
    server = await startServer(config(dataDir, false));
    const { socket, conversationId } = await visitorWithConversation(server.url, projectId);
    await waitFor('the message to be acknowledged', async () => {
      const res = await new Promise<{ ok: boolean }>((resolve) =>
        socket.emit('message:send', { conversationId, clientMessageId: 'ssrf-1', text: 'hi' }, resolve),
      );
      return res.ok;
    });
    socket.close();
    const failed = await waitFor(
      'the delivery to fail',
      async () => {
        const [delivery] = (await deliveriesOf(server!.url, projectId, owner.token, webhook.id)).items;
        return delivery?.status === 'failed' && delivery;
      },
      { timeoutMs: 60_000 },
    );
    expect(failed).toMatchObject({
      attempts: 2,
      lastError: expect.stringMatching(/^localhost resolves to (127\.0\.0\.1|::1) is not a public address$/),
    });
    expect(failed.lastStatusCode).toBeUndefined();
    expect(receiver.requests).toHaveLength(0);
  }, 120_000);
});
