import { agentSession } from '../support';

// expect-error TS2561: 'conversationIdd' does not exist
void agentSession.call('conversation:join', { conversationIdd: 1 });
