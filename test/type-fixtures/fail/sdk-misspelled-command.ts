import { agentSession } from '../support';

// expect-error TS2345: Argument of type '"conversation:jion"' is not assignable
void agentSession.call('conversation:jion', { conversationId: 'c1' });
