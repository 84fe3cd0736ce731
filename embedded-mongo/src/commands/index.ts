import type { Document } from 'bson';
import { MongoCommandError } from '../errors';
import { aggregateCommands } from './aggregate';
import { collectionCommands } from './collections';
import type { CommandContext, CommandHandler } from './context';
import { readCommands } from './find';
import { handshakeCommands } from './handshake';
import { indexCommands } from './indexes';
import { writeCommands } from './write';
import { parseWriteConcern, type WriteConcern } from './write-concern';

const COMMANDS = new Map<string, CommandHandler>(
  Object.entries({
    ...handshakeCommands,
    ...readCommands,
    ...writeCommands,
    ...aggregateCommands,
    ...indexCommands,
    ...collectionCommands,
  }),
);

/**
 * Runs one command and returns its reply; every failure becomes MongoDB's `{ ok: 0 }` shape. The
 * command's changes are journaled (and fsynced for `j: true`) before this returns, so the reply is
 * never sent for a write that a crash could lose.
 */
export function runCommand(ctx: CommandContext, cmd: Document, log: (message: string) => void): Document {
  const name = Object.keys(cmd)[0] ?? '';
  const handler = COMMANDS.get(name);
  let reply: Document;
  let concern: WriteConcern = { journal: false };
  if (!handler) {
    reply = new MongoCommandError(
      'CommandNotFound',
      `no such command: '${name}' (not implemented by embedded-mongo)`,
    ).toReply();
  } else {
    ctx.stats.record(name, cmd);
    try {
      concern = parseWriteConcern(cmd['writeConcern'], ctx.engine.journaled);
      reply = handler(ctx, cmd);
    } catch (error) {
      if (error instanceof MongoCommandError) reply = error.toReply();
      else {
        log(`command ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        reply = {
          ok: 0,
          errmsg: `internal error in embedded-mongo: ${error instanceof Error ? error.message : String(error)}`,
          code: 1,
          codeName: 'InternalError',
        };
      }
    }
  }
  try {
    ctx.engine.commit(concern.journal);
  } catch (error) {
    // Never acknowledge what could not be made durable. A full disk is MongoDB's OutOfDiskSpace
    // (the journal logs when it starts and ends, not once per refused write).
    if (error instanceof MongoCommandError) return error.toReply();
    const message = error instanceof Error ? error.message : String(error);
    log(message);
    return { ok: 0, errmsg: message, code: 1, codeName: 'InternalError' };
  }
  return reply;
}
