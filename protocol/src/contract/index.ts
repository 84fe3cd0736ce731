/**
 * The published contract (`@parley/protocol/contract`): the REST route table, the Socket.IO event
 * table and the generators of the OpenAPI and AsyncAPI documents. The build writes both documents
 * to `dist/contract/` (write-documents.ts), from where the server serves them.
 */
export * from './rest-routes';
export * from './socket-events';
export * from './openapi';
export * from './asyncapi';
export { OPENAPI_FILE, ASYNCAPI_FILE } from './files';
