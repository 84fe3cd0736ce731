// Builds the ESM entry and the single-file browser bundle with esbuild (the CommonJS build and the
// type declarations come from `tsc -b`). Skips work when the sources are older than the outputs.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { readFileSync, statSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const src = path.join(root, 'src');
const outputs = {
  esm: path.join(root, 'dist', 'index.mjs'),
  browser: path.join(root, 'dist', 'browser', 'parley.min.js'),
};

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}
function mtime(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

const protocolDist = path.join(root, '..', 'protocol', 'dist');
const inputsChanged = Math.max(newest(src), newest(protocolDist));
if (!process.argv.includes('--force') && Object.values(outputs).every((f) => mtime(f) > inputsChanged)) process.exit(0);

// ESM for bundlers and Node's `import`: the protocol's few runtime constants are inlined, the
// Socket.IO client stays a dependency.
await build({
  entryPoints: [path.join(src, 'index.ts')],
  outfile: outputs.esm,
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2020',
  external: ['socket.io-client'],
  sourcemap: true,
  logLevel: 'warning',
});

// One file for a <script> tag: everything on window.Parley. `platform: browser` makes any Node
// built-in an error, so none can slip in.
mkdirSync(path.dirname(outputs.browser), { recursive: true });
await build({
  entryPoints: [path.join(src, 'browser.ts')],
  outfile: outputs.browser,
  bundle: true,
  format: 'iife',
  globalName: 'Parley',
  platform: 'browser',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const bytes = readFileSync(outputs.browser);
const sizes = { bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
writeFileSync(path.join(root, 'dist', 'browser', 'size.json'), `${JSON.stringify(sizes, null, 2)}\n`);
console.log(
  `client-sdk: browser bundle ${(sizes.bytes / 1024).toFixed(1)} KiB, ${(sizes.gzipBytes / 1024).toFixed(1)} KiB gzipped`,
);
