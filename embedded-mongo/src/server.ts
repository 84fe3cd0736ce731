import net from 'node:net';
import type { Document } from 'bson';
import { runCommand } from './commands';
import type { Cursors } from './cursors';
import type { Engine } from './storage/engine';
import { ServerStats } from './server-stats';
import {
  encodeMsgReply,
  encodeOpReply,
  HEADER_BYTES,
  MAX_MESSAGE_BYTES,
  parseMessage,
  ProtocolError,
} from './wire-protocol';

export interface WireServerDeps {
  engine: Engine;
  cursors: Cursors;
  log(message: string): void;
}

/**
 * Collects a connection's bytes into whole messages. Chunks are kept in a list until a message is
 * complete, so a large message arriving in many chunks is copied once, not once per chunk.
 */
class Framer {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next whole message, or undefined until it has fully arrived. */
  next(): Buffer | undefined {
    if (this.buffered < 4) return undefined;
    const length = this.peekLength();
    if (length < HEADER_BYTES || length > MAX_MESSAGE_BYTES) {
      throw new ProtocolError(`invalid message length ${length} (limit ${MAX_MESSAGE_BYTES})`);
    }
    if (this.buffered < length) return undefined;
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.buffered);
    const message = all.subarray(0, length);
    const rest = all.subarray(length);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return message;
  }

  private peekLength(): number {
    const first = this.chunks[0] as Buffer;
    if (first.length >= 4) return first.readInt32LE(0);
    return Buffer.concat(this.chunks, this.buffered).readInt32LE(0);
  }
}

/**
 * The TCP side: frames messages, runs each command to completion before the next (commands are
 * synchronous, which is what makes each one atomic), and answers. A malformed message closes only
 * its own connection; a failing command is answered with an error; client input never throws out
 * of here.
 */
export class WireServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private nextConnectionId = 1;
  private readonly stats = new ServerStats();
  private port = 0;

  constructor(private readonly deps: WireServerDeps) {
    this.server = net.createServer((socket) => this.accept(socket));
    this.server.on('error', (error) => this.deps.log(`server error: ${error.message}`));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }

  private accept(socket: net.Socket): void {
    const connectionId = this.nextConnectionId++;
    this.sockets.add(socket);
    this.stats.opened();
    socket.setNoDelay(true);
    const framer = new Framer();
    socket.on('data', (chunk: Buffer) => {
      try {
        framer.push(chunk);
        for (let message = framer.next(); message; message = framer.next()) {
          const reply = this.handle(message, connectionId);
          if (reply) socket.write(reply);
          if (socket.destroyed) return;
        }
      } catch (error) {
        this.deps.log(`closing connection ${connectionId}: ${error instanceof Error ? error.message : String(error)}`);
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.stats.closed();
    });
  }

  private handle(message: Buffer, connectionId: number): Buffer | undefined {
    const request = parseMessage(message);
    if (request.kind === 'query') {
      const [db, collection] = splitNamespace(request.fullCollectionName);
      const reply =
        collection === '$cmd'
          ? this.run({ ...request.query, $db: db }, connectionId)
          : {
              ok: 0,
              errmsg: 'OP_QUERY is only supported for commands (on <db>.$cmd)',
              code: 352,
              codeName: 'UnsupportedOpQueryCommand',
            };
      return this.encode(request.header.requestId, reply, encodeOpReply);
    }
    const reply = this.run(request.body, connectionId);
    return request.moreToCome ? undefined : this.encode(request.header.requestId, reply, encodeMsgReply);
  }

  private run(cmd: Document, connectionId: number): Document {
    const db = typeof cmd['$db'] === 'string' ? cmd['$db'] : '';
    if (!db) return { ok: 0, errmsg: 'OP_MSG requests require a $db argument', code: 40571, codeName: 'Location40571' };
    const stats = this.stats;
    const port = this.port;
    return runCommand(
      { engine: this.deps.engine, cursors: this.deps.cursors, db, connectionId, stats, port },
      cmd,
      this.deps.log,
    );
  }

  /** A reply that cannot be encoded (too large, say) becomes an error reply rather than a dropped connection. */
  private encode(responseTo: number, reply: Document, encoder: (to: number, body: Document) => Buffer): Buffer {
    try {
      return encoder(responseTo, reply);
    } catch (error) {
      this.deps.log(`cannot encode a reply: ${error instanceof Error ? error.message : String(error)}`);
      return encoder(responseTo, {
        ok: 0,
        errmsg: `embedded-mongo could not encode the reply: ${error instanceof Error ? error.message : String(error)}`,
        code: 10334,
        codeName: 'BSONObjectTooLarge',
      });
    }
  }
}

function splitNamespace(ns: string): [string, string] {
  const dot = ns.indexOf('.');
  return dot < 0 ? [ns, ''] : [ns.slice(0, dot), ns.slice(dot + 1)];
}

export { ProtocolError };
