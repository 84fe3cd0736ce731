import path from 'node:path';

/** Where the build writes the documents, beside this module in `dist/contract/`. */
export const OPENAPI_FILE = path.join(__dirname, 'openapi.json');
export const ASYNCAPI_FILE = path.join(__dirname, 'asyncapi.json');
