import jwt from 'jsonwebtoken';
import { createAgentClient, createVisitorClient, memoryStorage, type VisitorClientEvents } from '@parley/client-sdk';
import { createAgent, createProject } from './support/fixtures';
import { startParley, type ParleyProcess } from './support/parley-process';
import { SdkEvents } from './support/sdk-events';
import { outcomeWithin, waitFor } from './support/wait';

/** Far above how long a refusal takes to come back; only a hang takes longer. */
const NO_HANG_MS = 5000;

describe('SDK: a blocked visitor', () => {
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
});
