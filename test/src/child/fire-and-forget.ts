// Fires and forgets every kind of send an SDK user can make, in a process run with
// --unhandled-rejections=strict: if any of them became an unhandled rejection, the process would
// end with an error instead of reporting and exiting 0.
import { createAgentClient, createVisitorClient, memoryStorage, type ClientMessage } from '@parley/client-sdk';
import { env, report, run, sleep, until } from './script-env';

const statuses = (messages: ClientMessage[]) => messages.map((m) => `${m.status}:${m.text.slice(0, 12)}`);

run(async () => {
  const url = env('PARLEY_URL');
  const projectId = env('PROJECT_ID');
  const visitor = createVisitorClient({ url, projectId, storage: memoryStorage() });
  const agent = createAgentClient({ url, email: env('AGENT_EMAIL'), password: env('AGENT_PASSWORD') });
  await Promise.all([visitor.ready, agent.ready]);

  const conversation = await visitor.startConversation();
  const id = conversation.id;
  await agent.conversations.join(id);

  // What a UI driven by the `message` events does: no await, no catch.
  void conversation.send('y'.repeat(5000));
  void conversation.send('visitor fine');
  void agent.conversations.send(id, 'z'.repeat(5000));
  void agent.conversations.send(id, 'agent fine');
  await until('every send to settle', () =>
    [conversation.messages, agent.conversations.messages(id)].every(
      (list) => list.filter((m) => m.status === 'pending').length === 0 && list.length >= 3,
    ),
  );

  // A first message the server refuses, given to startConversation: it fails like any send.
  const second = await visitor.startConversation({ text: 'too long '.repeat(600) });
  await until('the first message to fail', () => second.messages[0]?.status === 'failed');

  // Retrying a refused message fails again; retrying something that cannot be retried is refused.
  for (const failed of conversation.messages.filter((m) => m.status === 'failed')) void conversation.retry(failed);
  for (const failed of agent.conversations.messages(id).filter((m) => m.status === 'failed'))
    void agent.conversations.retry(failed);
  void conversation.retry({ clientMessageId: 'no-such-message' });
  void agent.conversations.retry({ conversationId: id, clientMessageId: 'no-such-message' });
  await until('the retries to fail again', () => visitor.pendingCount === 0);
  await sleep(100);

  const result = {
    visitor: statuses(conversation.messages),
    agent: statuses(agent.conversations.messages(id)),
    started: statuses(second.messages),
  };
  // Sends still queued when the clients close, and sends after they closed.
  void conversation.send('queued at close');
  void agent.conversations.send(id, 'queued at close');
  visitor.close();
  agent.close();
  void conversation.send('after close');
  void agent.conversations.send(id, 'after close');

  // A client whose sign-in is refused: what it was asked to send fails.
  const refused = createVisitorClient({ url, projectId: 'no-such-project', storage: memoryStorage() });
  const nowhere = refused.conversation('000000000000000000000000');
  void nowhere.send('to nowhere');
  await refused.ready.catch(() => undefined);
  await until('the send of a refused client to fail', () => nowhere.messages[0]?.status === 'failed');
  refused.close();

  // Node reports unhandled rejections once the microtasks have run: give it the chance.
  await sleep(200);
  report(result);
});
