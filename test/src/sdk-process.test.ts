import { startChaosProxy, type ChaosProxy } from './support/chaos-proxy';
import { createAgent, createProject, type TestAgent } from './support/fixtures';
import { startParley, type ParleyProcess } from './support/parley-process';
import { runSdkScript } from './support/sdk-script';

/**
 * The SDK in Node processes of their own (scripts in `child/`, on the built SDK), for what only a
 * whole process shows: an unhandled rejection ends it (under `--unhandled-rejections=strict`,
 * which jest's own process cannot observe), and a timer left running keeps it alive.
 */
describe('SDK in a Node process of its own', () => {
  let server: ParleyProcess;
  let proxy: ChaosProxy;
  let projectId: string;
  let account: TestAgent;

  beforeAll(async () => {
    server = await startParley();
    proxy = await startChaosProxy(server.port);
    projectId = (await createProject(server.url)).project.id;
    account = await createAgent(server.url, projectId);
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
    server?.cleanup();
  });

  const env = () => ({
    PARLEY_URL: server.url,
    PROXY_URL: proxy.url,
    PROJECT_ID: projectId,
    AGENT_EMAIL: account.email,
    AGENT_PASSWORD: account.password,
  });

  it('never turns an ignored send, retry or start into an unhandled rejection (visitor and agent)', async () => {
    const outcome = await runSdkScript('fire-and-forget', env());
    expect({ code: outcome.code, output: outcome.code === 0 ? '' : outcome.output }).toEqual({ code: 0, output: '' });
    // The refusals did happen, and showed as failed messages.
    const { visitor, agent, started } = outcome.result as { visitor: string[]; agent: string[]; started: string[] };
    expect(visitor.sort()).toEqual(['failed:yyyyyyyyyyyy', 'sent:agent fine', 'sent:visitor fine']);
    expect(started).toEqual(['failed:too long too']);
    expect(agent.sort()).toEqual(['failed:zzzzzzzzzzzz', 'sent:agent fine', 'sent:visitor fine']);
  });

  it('lets the process exit as soon as its clients are closed, online or offline with work in flight', async () => {
    let closingAt = 0;
    const outcome = await runSdkScript('exit-after-close', env(), {
      onLine: (line) => {
        if (line === 'RESULT {"phase":"connected"}') proxy.refuse();
        if (line.startsWith('RESULT {"phase":"closing"')) closingAt = Date.now();
      },
      timeoutMs: 90_000,
    });
    const exitedAfterMs = Date.now() - closingAt;
    proxy.resume();
    expect(outcome.code).toBe(0);
    expect(closingAt).toBeGreaterThan(0);
    // Every timer in the clients is at least a minute long (ack and request timeouts) or a backoff
    // of seconds: a process still alive 10 s after close() has something left running.
    expect(exitedAfterMs).toBeLessThan(10_000);
    // What was in flight was rejected by close(), not left hanging.
    const { outcomes } = outcome.result as { outcomes: string[] };
    expect(outcomes).toHaveLength(7);
    for (const o of outcomes) expect(o).toMatch(/^rejected /);
  }, 120_000);
});
