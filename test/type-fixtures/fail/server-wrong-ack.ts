// `conversation:join` acks `{ conversation }`, not `message:send`'s `{ message }`.
import type { Message } from '@parley/protocol';
import { agentCommand } from '../support';

declare const message: Message;

// expect-error TS2322: Property 'conversation' is missing
agentCommand('conversation:join', async () => ({ message }));
