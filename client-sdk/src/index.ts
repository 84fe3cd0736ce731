/**
 * @parley/client-sdk: visitor and agent clients for Parley, for browsers and Node.
 * They handle tokens, reconnects, retries, ordering and duplicates, so UIs don't have to.
 */
export { createVisitorClient, VisitorClient, VisitorConversation } from './visitor-client';
export type { VisitorClientOptions, VisitorClientEvents, MessageEvent, UnreadEvent } from './visitor-client';
export { createAgentClient, AgentClient } from './agent-client';
export type {
  AgentClientOptions,
  AgentClientEvents,
  ConversationFilter,
  LeadSearch,
  ContactSearch,
  QueueQuery,
  TransferTarget,
} from './agent-client';
export { ParleyError } from './errors';
export { verifyWebhook, WebhookVerificationError } from './webhook';
export type { VerifyWebhookOptions, WebhookHeaders } from './webhook';
export type { ClientMessage, MessageStatus } from './message-store';
export type { ConnectionStatus } from './socket-session';
export { memoryStorage, type TokenStorage } from './storage';
export type { Clock } from './clock';
export type { VerifiedTokenSource } from './visitor-auth';
export type * from '@parley/protocol';
