import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Website {
  /** `http://127.0.0.1:<port>`: the origin browsers send to Parley from this site's pages. */
  origin: string;
  close(): Promise<void>;
}

/**
 * A customer's website on an origin of its own, serving fixed HTML pages by path: what embeds
 * the widget in real life, so the SDK is exercised cross-origin (CORS, Origin checks).
 */
export async function startWebsite(pages: Record<string, string>): Promise<Website> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    // Browsers ask for a favicon on their own; an empty answer keeps the console free of 404s.
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const page = pages[path];
    if (page === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
