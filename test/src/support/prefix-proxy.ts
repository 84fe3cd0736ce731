import { createServer, request, type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';

export interface PrefixProxy {
  /** `http://127.0.0.1:<port>`; the server is reachable at `${origin}${prefix}` for each prefix. */
  origin: string;
  close(): Promise<void>;
}

/**
 * A reverse proxy that publishes a server under path prefixes, as `location /chat/ { proxy_pass
 * http://parley/; }` does in nginx: `/chat/x` goes to the server as `/x`, WebSocket upgrades
 * included; anything outside the prefixes is a 404 of the proxy's own.
 */
export async function startPrefixProxy(targetPort: number, prefixes: string[]): Promise<PrefixProxy> {
  const strip = (url: string | undefined): string | undefined => {
    const prefix = prefixes.find((p) => url?.startsWith(`${p}/`));
    return prefix === undefined ? undefined : url?.slice(prefix.length);
  };
  const headersFor = (req: IncomingMessage) => ({ ...req.headers, host: `127.0.0.1:${targetPort}` });

  const server = createServer((req, res) => {
    const path = strip(req.url);
    if (!path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not under the prefix');
      return;
    }
    const upstream = request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path, headers: headersFor(req) },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });

  const sockets = new Set<net.Socket>();
  server.on('upgrade', (req: IncomingMessage, client: net.Socket, head: Buffer) => {
    const path = strip(req.url);
    if (!path) {
      client.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1', () => {
      const lines = [`${req.method ?? 'GET'} ${path} HTTP/1.1`];
      for (const [name, value] of Object.entries(headersFor(req))) {
        for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) lines.push(`${name}: ${v}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
