import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError } from '../errors';
import type { Metrics } from '../infra/metrics';

/**
 * Requests Node's HTTP parser refuses before Express sees them: a request line or headers over
 * Node's limit (16 KB, which a URL with a long query string reaches) or bytes that are not HTTP.
 * Node answers those itself with a bare 431 or 400 and no body, which is no answer of the protocol:
 * every error is one of its codes, in its shape. Over the limit is `PAYLOAD_TOO_LARGE`; unreadable
 * is `BAD_REQUEST`, like every request that cannot be read. A request that timed out keeps Node's
 * 408 (its client is too slow to read an answer anyway).
 */
export function answerClientErrors(server: Server, metrics: Metrics): void {
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    // A response already under way on this connection cannot be followed by another (as Node does).
    const inProgress = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (error.code === 'ECONNRESET' || !socket.writable || inProgress) {
      socket.destroy();
      return;
    }
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
      return;
    }
    const appError =
      error.code === 'HPE_HEADER_OVERFLOW' || error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
        ? new AppError('PAYLOAD_TOO_LARGE', 'The request line or headers are too large')
        : new AppError('BAD_REQUEST', 'Malformed HTTP request');
    metrics.errors.inc({ code: appError.code, transport: 'http' });
    const body = JSON.stringify({ error: appError.toBody() });
    socket.end(
      [
        `HTTP/1.1 ${appError.status} ${STATUS_CODES[appError.status] ?? ''}`,
        'Content-Type: application/json; charset=utf-8',
        'X-Content-Type-Options: nosniff',
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
        '',
        body,
      ].join('\r\n'),
    );
  });
}
