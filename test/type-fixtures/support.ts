/**
 * What the fixtures type-check against: the server's command registration and the SDK's socket
 * session, as built (`dist/`). Nothing here runs: the declarations only give the fixtures values
 * of the types the server's namespaces and the SDK's clients use.
 */
import type { AGENT_NAMESPACE, VISITOR_NAMESPACE } from '@parley/protocol';
import type { commandRegistrar } from '@parley/server/dist/realtime/command';
// The SDK's package exports hide its internal modules, so its build is reached by path.
import type { SocketSession } from '../../client-sdk/dist/socket-session';

/** The server's `command()` on each namespace. */
export declare const visitorCommand: ReturnType<typeof commandRegistrar<typeof VISITOR_NAMESPACE>>;
export declare const agentCommand: ReturnType<typeof commandRegistrar<typeof AGENT_NAMESPACE>>;

/** The SDK's session on each namespace. */
export declare const visitorSession: SocketSession<typeof VISITOR_NAMESPACE>;
export declare const agentSession: SocketSession<typeof AGENT_NAMESPACE>;
