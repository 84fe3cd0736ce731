import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const SERVER_MAIN = path.join(REPO_ROOT, 'server', 'dist', 'main.js');
export const EMBEDDED_MONGO_BIN = path.join(REPO_ROOT, 'embedded-mongo', 'bin', 'embedded-mongo.js');
