// Must compile: the server registers commands and the SDK calls them as the map says.
import type { Message } from '@parley/protocol';
import { agentCommand, agentSession, visitorCommand, visitorSession } from '../support';

declare const message: Message;

visitorCommand('message:send', async (input) => {
  const text: string = input.text;
  return { message: { ...message, text } };
});
visitorCommand('typing', async (input) => {
  const typing: boolean = input.typing;
  return typing ? {} : {};
});
agentCommand('session:renew', async (input) => ({ expiresAt: input.token }));

export async function sdk(): Promise<string> {
  const { conversation } = await agentSession.call('conversation:join', { conversationId: 'c1' });
  const { messages, hasMore } = await visitorSession.call('conversation:history', {
    conversationId: conversation.id,
    afterSeq: 0,
  });
  visitorSession.notify('typing', { conversationId: conversation.id, typing: true });
  visitorSession.socket.on('message.created', (event) => event.message.text);
  agentSession.socket.on('lead.updated', (event) => event.changes);
  return `${messages.length} ${hasMore}`;
}
