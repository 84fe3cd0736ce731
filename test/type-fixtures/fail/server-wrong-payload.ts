// A handler reads its command's input only (here `message:send`'s, which has no `typing`).
import { visitorCommand } from '../support';

visitorCommand('message:send', async (input) => {
  // expect-error TS2339: Property 'typing' does not exist
  if (input.typing) throw new Error('unreachable');
  throw new Error('not run');
});
