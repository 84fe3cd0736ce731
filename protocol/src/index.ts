/**
 * @parley/protocol: the public contract of the Parley server. This entry point holds types and
 * constants only (no runtime dependencies), so browser bundles stay small; the zod input schemas
 * live at `@parley/protocol/schemas`.
 */
export * from './entities';
export * from './errors';
export * from './events';
export * from './limits';
export * from './rest';
export * from './routing';
export * from './webhooks';
export * from './notes';
export * from './activity';
export type * from './schemas/activity';
export type * from './schemas/notes';
export * from './imports';
export type * from './schemas/visitor';
export type * from './schemas/agent';
export type * from './schemas/admin';
export type * from './schemas/auth';
export type * from './schemas/leads';
export type * from './schemas/conversations';
export type * from './schemas/workflow';
export type * from './schemas/canned-responses';
export type * from './schemas/routing';
export type * from './schemas/webhooks';
export type * from './schemas/properties';
export type * from './schemas/lead-filter';
export type * from './schemas/segments';
export type * from './schemas/lead-bulk';
export type * from './schemas/imports';
export { PROTOCOL_VERSION } from './version';
