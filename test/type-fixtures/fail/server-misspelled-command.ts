import { agentCommand } from '../support';

// expect-error TS2345: Argument of type '"conversation:jion"' is not assignable
agentCommand('conversation:jion', async () => ({}));
