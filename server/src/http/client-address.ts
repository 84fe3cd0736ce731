import type { IncomingMessage } from 'node:http';
import type { Express, Request } from 'express';

/**
 * The client address of any request to this server (a Socket.IO handshake too), as Express sees
 * it for REST: through `X-Forwarded-For` exactly as far as TRUST_PROXY trusts it, so that limits
 * per address count clients, not the load balancer.
 */
export function addressResolver(app: Express): (request: IncomingMessage) => string {
  return (request) => {
    const req = Object.create(app.request as object, {
      app: { value: app },
      headers: { value: request.headers },
      socket: { value: request.socket },
    }) as Request;
    return req.ip ?? request.socket.remoteAddress ?? 'unknown';
  };
}
