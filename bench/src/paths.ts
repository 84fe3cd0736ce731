import path from 'node:path';

/** bench/dist/paths.js → the repository root. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const SERVER_MAIN = path.join(REPO_ROOT, 'server', 'dist', 'main.js');
export const EMBEDDED_MONGO_BIN = path.join(REPO_ROOT, 'embedded-mongo', 'bin', 'embedded-mongo.js');
export const BASELINE_MAIN = path.join(__dirname, 'baseline', 'baseline-server.js');
export const PROBE = path.join(__dirname, 'processes', 'probe.js');
