// A push's listener gets that push's payload: `message.created` carries `{ message }`.
import { visitorSession } from '../support';

// expect-error TS2339: Property 'conversation' does not exist
visitorSession.socket.on('message.created', (event) => event.conversation);
