/**
 * Build step (`npm run build`, after `tsc -b`): generates the OpenAPI and AsyncAPI documents from
 * the zod schemas and writes them beside the compiled contract, so that the server serves files
 * made at build time rather than generating them on every start.
 */
import { writeFileSync } from 'node:fs';
import { buildAsyncApiDocument } from './asyncapi';
import { ASYNCAPI_FILE, OPENAPI_FILE } from './files';
import { buildOpenApiDocument } from './openapi';

writeFileSync(OPENAPI_FILE, `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`);
writeFileSync(ASYNCAPI_FILE, `${JSON.stringify(buildAsyncApiDocument(), null, 2)}\n`);
