import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { REPO_ROOT } from './support/paths';
import { startParley, type ParleyProcess } from './support/parley-process';

const run = promisify(execFile);
const SDK = path.join(REPO_ROOT, 'client-sdk');
const BUNDLE = path.join(SDK, 'dist', 'browser', 'parley.min.js');

/** The files `npm pack` would put in a package's tarball. */
async function packedFiles(dir: string): Promise<string[]> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir });
  const [pack] = JSON.parse(stdout) as { files: { path: string }[] }[];
  return (pack?.files ?? []).map((f) => f.path).sort();
}

/** GET with a given Accept-Encoding, without any decoding on the way: the bytes as sent. */
function rawGet(url: string, acceptEncoding?: string): Promise<{ headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

// Each test runs npm pack or tsc on a project: about 40 s apiece on a loaded 2-core machine.
describe('the SDK as a package', () => {
  it('has one copy for import and require, so a ParleyError is the same class either way', async () => {
    const script = [
      "import * as esm from '@parley/client-sdk';",
      "import { createRequire } from 'node:module';",
      "const cjs = createRequire(import.meta.url)('@parley/client-sdk');",
      'const error = new cjs.ParleyError("NOT_FOUND", "x");',
      'console.log(JSON.stringify({ same: esm.ParleyError === cjs.ParleyError && esm.createVisitorClient === cjs.createVisitorClient,',
      '  instance: error instanceof esm.ParleyError, names: Object.keys(esm).sort(), cjsNames: Object.keys(cjs).sort() }));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: path.join(REPO_ROOT, 'test'),
    });
    const result = JSON.parse(stdout) as { same: boolean; instance: boolean; names: string[]; cjsNames: string[] };
    expect(result).toMatchObject({ same: true, instance: true });
    expect(result.names).toEqual(result.cjsNames.filter((n) => n !== '__esModule'));
  });

  it('types both conditions: an ESM and a CommonJS consumer type-check against it', async () => {
    const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const project = path.join(REPO_ROOT, 'test', 'fixtures', 'sdk-consumer');
    await expect(run(process.execPath, [tsc, '-p', project])).resolves.toBeDefined();
    const { stdout } = await run(process.execPath, [tsc, '-p', project, '--traceResolution']);
    const resolved = stdout
      .split('\n')
      .filter((l) => l.includes("Module name '@parley/client-sdk' was successfully resolved"))
      .map((l) => path.basename(/resolved to '([^']+)'/.exec(l)?.[1] ?? ''));
    expect(resolved.sort()).toEqual(['index.d.mts', 'index.d.ts']);
  }, 180_000);

  it("compiles the README's agent console example, as written, against the package's types", async () => {
    const readme = readFileSync(path.join(SDK, 'README.md'), 'utf8');
    const example = /## An agent console, complete[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain('createAgentClient');
    // Inside the repository, so that '@parley/client-sdk' resolves as it would in a project.
    const dir = mkdtempSync(path.join(REPO_ROOT, 'test', 'readme-example-'));
    try {
      writeFileSync(path.join(dir, 'console.mts'), example ?? '');
      const fixture = JSON.parse(
        readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'sdk-consumer', 'tsconfig.json'), 'utf8'),
      ) as { compilerOptions: object };
      writeFileSync(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: fixture.compilerOptions, files: ['console.mts'] }),
      );
      const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      await expect(run(process.execPath, [tsc, '-p', dir]).then(() => 'compiles')).resolves.toBe('compiles');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('exports only files that exist and are modules, and ships no build leftovers', async () => {
    const pkg = JSON.parse(readFileSync(path.join(SDK, 'package.json'), 'utf8')) as { exports: unknown };
    const targets = JSON.stringify(pkg.exports).match(/"\.\/[^"]+"/g) ?? [];
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) {
      const file = JSON.parse(target) as string;
      expect(existsSync(path.join(SDK, file))).toBe(true);
      // The <script> bundle (an IIFE setting window.Parley) is served, not imported.
      expect(file).not.toMatch(/\.min\.js$/);
    }

    const sdkFiles = await packedFiles(SDK);
    expect(sdkFiles).toEqual(
      expect.arrayContaining([
        'README.md',
        'package.json',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/index.mjs',
        'dist/index.d.mts',
        'dist/browser/parley.min.js',
        'dist/browser/parley.min.js.br',
        'dist/browser/parley.min.js.gz',
      ]),
    );
    const protocolFiles = await packedFiles(path.join(REPO_ROOT, 'protocol'));
    expect(protocolFiles).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'package.json']));
    for (const file of [...sdkFiles, ...protocolFiles]) {
      expect(file).not.toMatch(/tsbuildinfo|^src\/|^test\/|dist-test/);
    }
  }, 180_000);

  it("states the bundle's size in the README exactly as the build measured it", () => {
    const sizes = JSON.parse(readFileSync(path.join(SDK, 'dist', 'browser', 'size.json'), 'utf8')) as {
      bytes: number;
      gzipBytes: number;
      brotliBytes: number;
    };
    expect(sizes.bytes).toBe(readFileSync(BUNDLE).length);
    expect(sizes.gzipBytes).toBe(readFileSync(`${BUNDLE}.gz`).length);
    expect(sizes.brotliBytes).toBe(readFileSync(`${BUNDLE}.br`).length);
    const readme = readFileSync(path.join(SDK, 'README.md'), 'utf8');
    const n = (bytes: number) => bytes.toLocaleString('en-US');
    expect(readme).toContain(
      `**Size: ${n(sizes.bytes)} bytes minified, ${n(sizes.gzipBytes)} bytes gzipped, ${n(sizes.brotliBytes)} bytes with brotli**`,
    );
    // No other figure for it anywhere in the README.
    expect(readme.match(/bytes minified/g)).toHaveLength(1);
  });

  describe('served by the Parley server', () => {
    let server: ParleyProcess;
    beforeAll(async () => {
      server = await startParley();
    });
    afterAll(async () => {
      await server?.stop();
      server?.cleanup();
    });

    it('sends the precompressed bundle to browsers that accept it, and the plain one to others', async () => {
      const plain = readFileSync(BUNDLE);
      const url = `${server.url}/sdk/parley.min.js`;
      const cases: [string | undefined, string | undefined, (body: Buffer) => Buffer][] = [
        ['gzip, deflate, br, zstd', 'br', brotliDecompressSync],
        ['gzip, deflate', 'gzip', gunzipSync],
        [undefined, undefined, (b) => b],
        ['identity', undefined, (b) => b],
      ];
      for (const [acceptEncoding, encoding, decode] of cases) {
        const { headers, body } = await rawGet(url, acceptEncoding);
        expect({ acceptEncoding, encoding: headers['content-encoding'] }).toEqual({ acceptEncoding, encoding });
        expect(headers['content-type']).toMatch(/javascript/);
        expect(String(headers['vary'])).toMatch(/accept-encoding/i);
        expect(decode(body).equals(plain)).toBe(true);
        if (encoding) expect(body.length).toBeLessThan(plain.length / 3);
      }
    });
  });
});
