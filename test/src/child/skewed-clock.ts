// A visitor and an agent on a machine whose clock is off by SKEW_MS, chatting for DURATION_MS
// across several token lifetimes: how often they refreshed, whether they stayed who they were and
// whether their connection ever had to be re-established.
import { createAgentClient, createVisitorClient, memoryStorage, type ConnectionStatus } from '@parley/client-sdk';
import { env, report, run, sleep } from './script-env';

run(async () => {
  const url = env('PARLEY_URL');
  const projectId = env('PROJECT_ID');
  const skew = Number(env('SKEW_MS'));
  const duration = Number(env('DURATION_MS'));

  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + skew;
  const realFetch = globalThis.fetch;
  let refreshes = 0;
  globalThis.fetch = (input, init) => {
    if (String(input).endsWith('/v1/auth/refresh')) refreshes++;
    return realFetch(input, init);
  };

  const storage = memoryStorage();
  const visitor = createVisitorClient({ url, projectId, storage });
  const agent = createAgentClient({ url, email: env('AGENT_EMAIL'), password: env('AGENT_PASSWORD') });
  const visitorStatuses: ConnectionStatus[] = [];
  const agentStatuses: ConnectionStatus[] = [];
  const errors: string[] = [];
  visitor.on('status', (s) => visitorStatuses.push(s));
  agent.on('status', (s) => agentStatuses.push(s));
  visitor.on('error', (e) => errors.push(`visitor ${e.code}`));
  agent.on('error', (e) => errors.push(`agent ${e.code}`));
  await Promise.all([visitor.ready, agent.ready]);
  const userId = visitor.user?.id;
  const conversation = await visitor.startConversation({ text: 'hello' });
  await agent.conversations.join(conversation.id);

  const started = realNow();
  let sent = 0;
  while (realNow() - started < duration) {
    await conversation.send(`visitor ${sent}`);
    await agent.conversations.send(conversation.id, `agent ${sent}`);
    sent++;
    await sleep(500);
  }
  // A reload on the same storage.
  const reloaded = createVisitorClient({ url, projectId, storage });
  await reloaded.ready;

  report({
    refreshes,
    sent,
    sameVisitor: visitor.user?.id === userId,
    reloadSameVisitor: reloaded.user?.id === userId,
    visitorStatuses,
    agentStatuses,
    errors,
  });
  for (const client of [visitor, agent, reloaded]) client.close();
});
