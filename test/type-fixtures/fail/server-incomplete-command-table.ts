// A namespace's command table must handle every command of the map: one left out does not compile.
import type { AGENT_NAMESPACE } from '@parley/protocol';
import type { CommandTable } from '@parley/server/dist/realtime/namespace-builder';

declare const withoutRenew: Omit<CommandTable<typeof AGENT_NAMESPACE>, 'session:renew'>;

// expect-error TS2741: Property '"session:renew"' is missing in type
export const table: CommandTable<typeof AGENT_NAMESPACE> = withoutRenew;
