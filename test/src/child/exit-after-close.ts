// A Node process whose clients are closed while they are busy (connected, or offline with sends,
// commands, backoff sleeps and reconnects in flight) must be free to exit at once: close() leaves
// no timer, socket or request behind.
import { createAgentClient, createVisitorClient, memoryStorage } from '@parley/client-sdk';
import { RecordingClock } from './recording-clock';
import { env, report, run, until } from './script-env';

run(async () => {
  const direct = env('PARLEY_URL');
  const proxied = env('PROXY_URL');
  const projectId = env('PROJECT_ID');
  const credentials = { email: env('AGENT_EMAIL'), password: env('AGENT_PASSWORD') };
  // Long enough that a timer left running by close() would keep the process alive for a minute.
  const ACK_WAIT_MS = 60_000;
  const slow = { ackTimeoutMs: ACK_WAIT_MS, requestTimeoutMs: 60_000 };
  // The offline clients' timers, counted, to see when their work is waiting on them.
  const clock = new RecordingClock();

  const online = createVisitorClient({ url: direct, projectId, storage: memoryStorage(), ...slow });
  const onlineAgent = createAgentClient({ url: direct, ...credentials, ...slow });
  const offline = createVisitorClient({ url: proxied, projectId, storage: memoryStorage(), clock, ...slow });
  const offlineAgent = createAgentClient({ url: proxied, ...credentials, clock, ...slow });
  await Promise.all([online.ready, onlineAgent.ready, offline.ready, offlineAgent.ready]);
  const conversation = await offline.startConversation({ text: 'before the outage' });
  await until('the first message to be stored', () => conversation.messages[0]?.status === 'sent');
  await onlineAgent.conversations.join(conversation.id);
  await online.startConversation({ text: 'hello' });

  report({ phase: 'connected' }); // the test now makes the server unreachable through the proxy
  await until(
    'both proxied clients to notice',
    () => offline.status !== 'connected' && offlineAgent.status !== 'connected',
  );

  // Work in flight: a queued send, commands waiting for the connection, REST calls.
  const inFlight = [
    conversation.send('never delivered'),
    offline.conversations(),
    offline.submitPreChatForm({ fullname: 'Offline Person' }),
    offline.startConversation({ text: 'never started' }),
    offlineAgent.conversations.send(conversation.id, 'never delivered either'),
    offlineAgent.conversations.join(conversation.id),
    offlineAgent.leads.search({}),
  ].map((p) =>
    p.then(
      () => 'resolved',
      (error: { code?: string }) => `rejected ${error.code}`,
    ),
  );
  // Under way: the two sends wait in their outboxes for the connection, the four commands (the
  // list, the form, the start, the join) each on a one-minute timer, and Socket.IO keeps trying
  // to reconnect.
  await until(
    'four commands waiting for the connection',
    () => clock.armed(ACK_WAIT_MS) >= 4,
    20_000,
    () => `timers armed: ${clock.lengths().join(', ')}`,
  );

  report({ phase: 'closing', at: Date.now() });
  for (const client of [online, onlineAgent, offline, offlineAgent]) client.close();
  report({ phase: 'closed', outcomes: await Promise.all(inFlight) });
});
