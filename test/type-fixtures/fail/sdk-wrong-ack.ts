// `conversation:join` resolves with `{ conversation }`, not `message:send`'s `{ message }`.
import { agentSession } from '../support';

export async function join(): Promise<string> {
  const ack = await agentSession.call('conversation:join', { conversationId: 'c1' });
  // expect-error TS2339: Property 'message' does not exist
  return ack.message.text;
}
