// The schema comes from the map by the command's name: another command's schema cannot be passed.
import { typingSchema } from '@parley/protocol/schemas';
import { visitorCommand } from '../support';

// expect-error TS2554: Expected 2 arguments, but got 3.
visitorCommand('message:send', typingSchema, async () => ({}));
