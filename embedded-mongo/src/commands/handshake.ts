import type { Document } from 'bson';
import { MongoCommandError } from '../errors';
import type { CommandHandler } from './context';

/** MongoDB 7.0's wire version: driver 7.x speaks it, and it promises nothing embedded-mongo lacks. */
export const MAX_WIRE_VERSION = 21;
export const SERVER_VERSION = '7.0.0';
export const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;
export const MAX_MESSAGE_SIZE = 48_000_000;

const hello: CommandHandler = (ctx, cmd) => {
  const reply: Document = {
    ...('hello' in cmd ? { isWritablePrimary: true } : { ismaster: true }),
    ...(cmd['helloOk'] === true ? { helloOk: true } : {}),
    maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
    maxMessageSizeBytes: MAX_MESSAGE_SIZE,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    // Present so drivers use sessions as with MongoDB; sessions carry no state here.
    logicalSessionTimeoutMinutes: 30,
    connectionId: ctx.connectionId,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  };
  // No `topologyVersion` (drivers then poll `hello` rather than stream it) and no `compression`.
  return reply;
};

const buildInfo: CommandHandler = () => ({
  version: SERVER_VERSION,
  gitVersion: 'embedded-mongo',
  versionArray: [7, 0, 0, 0],
  bits: 64,
  debug: false,
  maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
  storageEngines: ['embedded-mongo'],
  javascriptEngine: 'none',
  ok: 1,
});

/** As a standalone MongoDB answers: no replica set, so no transactions. */
const noTransactions: CommandHandler = () => {
  throw new MongoCommandError(
    'IllegalOperation',
    'Transaction numbers are only allowed on a replica set member or mongos (embedded-mongo is a standalone server without transactions)',
  );
};

/** A standalone MongoDB 7.0's health and version fields (see server-stats.ts); sections such as `wiredTiger` are absent. */
const serverStatus: CommandHandler = (ctx) => ctx.stats.status(SERVER_VERSION, ctx.port);

export const handshakeCommands: Record<string, CommandHandler> = {
  serverStatus,
  abortTransaction: noTransactions,
  commitTransaction: noTransactions,
  hello,
  isMaster: hello,
  ismaster: hello,
  ping: () => ({ ok: 1 }),
  buildInfo,
  buildinfo: buildInfo,
  endSessions: () => ({ ok: 1 }),
  saslStart: () => {
    throw new MongoCommandError(
      'CommandNotSupported',
      'authentication is not supported by embedded-mongo: connect without credentials',
    );
  },
};
