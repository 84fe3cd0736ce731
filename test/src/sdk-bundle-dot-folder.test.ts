import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { client } from './support/http';
import { startParley, type ParleyProcess } from './support/parley-process';
import { REPO_ROOT } from './support/paths';
import { makeTempDir, removeDir } from './support/temp-dir';

/**
 * People install under `~/.local`, `~/.apps` or a cache folder: a path with a component that
 * starts with a dot. The server is copied (its build, its static files and the SDK bundle) into
 * such a folder, with the installed node_modules linked in, and run from there.
 */
describe('a server installed under a dot-folder', () => {
  let temp: string;
  let server: ParleyProcess;

  beforeAll(async () => {
    temp = makeTempDir('parley-dot-');
    const install = path.join(temp, '.parley-dot', 'parley');
    for (const part of ['server/dist', 'server/public', 'server/package.json', 'client-sdk/dist/browser']) {
      cpSync(path.join(REPO_ROOT, part), path.join(install, part), { recursive: true });
    }
    mkdirSync(install, { recursive: true });
    symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(install, 'node_modules'), 'dir');
    server = await startParley({ main: path.join(install, 'server', 'dist', 'main.js') });
  });

  afterAll(async () => {
    await server?.stop();
    server?.cleanup();
    removeDir(temp);
  });

  it.each(['br', 'gzip'])('serves the SDK bundle precompressed (%s)', async (encoding) => {
    const res = await fetch(`${server.url}/sdk/parley.min.js`, { headers: { 'accept-encoding': encoding } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBe(encoding);
    // fetch decompresses: what arrives is the bundle itself.
    expect(await res.text()).toContain('createVisitorClient');
  });

  it('serves the uncompressed bundle and the landing page', async () => {
    const bundle = await fetch(`${server.url}/sdk/parley.min.js`, { headers: { 'accept-encoding': 'identity' } });
    expect(bundle.status).toBe(200);
    expect(await bundle.text()).toContain('createVisitorClient');
    expect((await client(server.url).get('/')).status).toBe(200);
  });

  it('still refuses dot-files below the served folder', async () => {
    const res = await fetch(`${server.url}/sdk/.hidden.js`, { headers: { 'accept-encoding': 'br' } });
    expect(res.status).toBe(404);
  });
});
