import type { z } from 'zod';
import {
  AGENT_NAMESPACE,
  VISITOR_NAMESPACE,
  type CommandName,
  type CommandSchema,
  type ParleyNamespace,
} from '../events';
import { conversationCloseSchema, conversationJoinSchema } from './agent';
import { agentStatusSchema, conversationTransferSchema } from './routing';
import { eventTrackSchema, pageViewSchema } from './activity';
import {
  conversationHistorySchema,
  conversationListSchema,
  conversationStartSchema,
  leadUpdateSchema,
  messageSendSchema,
  sessionRenewSchema,
  typingSchema,
} from './visitor';
import {
  conversationPendSchema,
  conversationReadSchema,
  conversationReopenSchema,
  conversationResolveSchema,
  conversationSnoozeSchema,
} from './workflow';

/**
 * The schema values of the command map (`ProtocolMap`, which holds them as types so that the main
 * entry point does not bundle zod). `satisfies` keeps the two in step: a command missing here, one
 * the map does not have, or another command's schema is a compile error.
 */
export const COMMAND_SCHEMAS = {
  [VISITOR_NAMESPACE]: {
    'conversation:start': conversationStartSchema,
    'message:send': messageSendSchema,
    'lead:update': leadUpdateSchema,
    'conversation:list': conversationListSchema,
    'conversation:history': conversationHistorySchema,
    'conversation:read': conversationReadSchema,
    typing: typingSchema,
    'session:renew': sessionRenewSchema,
    'page:view': pageViewSchema,
    'event:track': eventTrackSchema,
  },
  [AGENT_NAMESPACE]: {
    'conversation:join': conversationJoinSchema,
    'conversation:close': conversationCloseSchema,
    'conversation:resolve': conversationResolveSchema,
    'conversation:reopen': conversationReopenSchema,
    'conversation:snooze': conversationSnoozeSchema,
    'conversation:pend': conversationPendSchema,
    'conversation:read': conversationReadSchema,
    'conversation:transfer': conversationTransferSchema,
    'agent:status': agentStatusSchema,
    'message:send': messageSendSchema,
    'conversation:history': conversationHistorySchema,
    typing: typingSchema,
    'session:renew': sessionRenewSchema,
  },
} satisfies { [N in ParleyNamespace]: { [C in CommandName<N>]: CommandSchema<N, C> } };

/** The schema of one command of the map, typed as the map says. */
export function commandSchema<N extends ParleyNamespace, C extends CommandName<N>>(
  namespace: N,
  name: C,
): CommandSchema<N, C> {
  // TypeScript cannot follow an index by two generic keys; the `satisfies` above is what makes
  // the entry under [namespace][name] the map's schema for that command.
  const schemas: Record<string, z.ZodType> = COMMAND_SCHEMAS[namespace];
  if (!Object.hasOwn(schemas, name)) throw new Error(`No command ${name} on ${namespace}`);
  return schemas[name] as CommandSchema<N, C>;
}
