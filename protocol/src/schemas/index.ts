/**
 * Input schemas (zod) for every Socket.IO command and REST body of the protocol. A separate entry
 * point (`@parley/protocol/schemas`) so that clients importing only types do not bundle zod.
 */
export * from './common';
export * from './visitor';
export * from './agent';
export * from './admin';
export * from './auth';
export * from './leads';
export * from './conversations';
export * from './workflow';
export * from './canned-responses';
export * from '../templates';
export * from './routing';
export * from './webhooks';
export * from './commands';
export * from './responses';
export * from './socket-payloads';
export * from './routing-responses';
export * from './webhook-payloads';
export * from './notes';
export * from './activity';
export * from './properties';
export * from './lead-filter';
export * from './segments';
export * from './lead-bulk';
export * from './imports';
