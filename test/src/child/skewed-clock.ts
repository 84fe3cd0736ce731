// A visitor and an agent on a machine whose clock is off by SKEW_MS, chatting for ROUNDS token
// refreshes: when they meant to refresh, how often they did, whether they stayed who they were and
// whether their connection ever had to be re-established. Their timers run on clocks moved by
// hand (starting at the skewed time), so a round takes a second, not a token lifetime.
import {
  createAgentClient,
  createVisitorClient,
  memoryStorage,
  type ConnectionStatus,
  type TokenStorage,
} from '@parley/client-sdk';
import { ManualClock } from '../support/manual-clock';
import { env, report, run, until } from './script-env';

run(async () => {
  const url = env('PARLEY_URL');
  const projectId = env('PROJECT_ID');
  const skew = Number(env('SKEW_MS'));
  const rounds = Number(env('ROUNDS'));

  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + skew;
  const realFetch = globalThis.fetch;
  let refreshes = 0;
  globalThis.fetch = (input, init) => {
    if (String(input).endsWith('/v1/auth/refresh')) refreshes++;
    return realFetch(input, init);
  };

  // Counts the visitor's saved sessions: a refresh is done once its token is stored.
  const memory = memoryStorage();
  let saves = 0;
  const storage: TokenStorage = {
    getItem: (key) => memory.getItem(key),
    setItem: (key, value) => {
      saves++;
      memory.setItem(key, value);
    },
    removeItem: (key) => memory.removeItem(key),
  };
  const visitorClock = new ManualClock();
  const agentClock = new ManualClock();
  const visitor = createVisitorClient({ url, projectId, storage, clock: visitorClock });
  const agent = createAgentClient({
    url,
    email: env('AGENT_EMAIL'),
    password: env('AGENT_PASSWORD'),
    clock: agentClock,
  });
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

  // Tokens are issued to the second (`iat`): each round waits for the next second, so that every
  // refresh brings a new token.
  let lastSecond = Math.floor(realNow() / 1000);
  for (let sent = 0; sent < rounds; sent++) {
    await conversation.send(`visitor ${sent}`);
    await agent.conversations.send(conversation.id, `agent ${sent}`);
    await until('the next second', () => Math.floor(realNow() / 1000) > lastSecond);
    lastSecond = Math.floor(realNow() / 1000);
    const before = { refreshes, saves };
    visitorClock.advanceToNext();
    agentClock.advanceToNext();
    await until('both clients refreshed', () => refreshes >= before.refreshes + 2 && saves > before.saves);
  }
  // A reload on the same storage.
  const reloaded = createVisitorClient({ url, projectId, storage, clock: visitorClock });
  await reloaded.ready;

  report({
    refreshes,
    visitorDelays: visitorClock.fired,
    agentDelays: agentClock.fired,
    sameVisitor: visitor.user?.id === userId,
    reloadSameVisitor: reloaded.user?.id === userId,
    visitorStatuses,
    agentStatuses,
    errors,
  });
  for (const client of [visitor, agent, reloaded]) client.close();
});
