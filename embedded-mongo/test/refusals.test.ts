import net from 'node:net';
import { harness, type Harness } from './support';

describe('what embedded-mongo refuses, and how', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
    await h.db.collection('r').insertMany([
      { a: 1, s: 'x' },
      { a: 2, s: 'y' },
    ]);
  });
  afterAll(async () => h.close());

  it.each([
    ['an unknown command', { frobnicate: 1 }, 59, /no such command: 'frobnicate'/],
    ['explain of an aggregation', { explain: { aggregate: 'r', pipeline: [], cursor: {} } }, 115, /explain/],
    ['$where', { find: 'r', filter: { $where: 'this.a > 1' } }, 115, /\$where/],
    ['$text', { find: 'r', filter: { $text: { $search: 'x' } } }, 115, /\$text/],
    ['$near', { find: 'r', filter: { loc: { $near: [0, 0] } } }, 115, /\$near/],
    ['$geoWithin', { find: 'r', filter: { loc: { $geoWithin: { $center: [[0, 0], 1] } } } }, 115, /\$geoWithin/],
    ['$jsonSchema', { find: 'r', filter: { $jsonSchema: {} } }, 115, /\$jsonSchema/],
    [
      '$function in $expr',
      { find: 'r', filter: { $expr: { $function: { body: 'x', args: [], lang: 'js' } } } },
      115,
      /\$function/,
    ],
    ['$bitsAllSet', { find: 'r', filter: { a: { $bitsAllSet: 1 } } }, 115, /\$bitsAllSet/],
    ['an unknown query operator', { find: 'r', filter: { a: { $frob: 1 } } }, 2, /\$frob/],
    ['an unknown top-level operator', { find: 'r', filter: { $frob: 1 } }, 2, /\$frob/],
    ['collation', { find: 'r', filter: {}, collation: { locale: 'fr' } }, 115, /collation/],
    ['let', { find: 'r', filter: {}, let: { x: 1 } }, 115, /let/],
    ['a tailable cursor', { find: 'r', filter: {}, tailable: true }, 115, /tailable/],
    ['an unknown find option', { find: 'r', filter: {}, frob: true }, 40415, /frob/],
    ['a $natural sort', { find: 'r', filter: {}, sort: { $natural: -1 } }, 115, /\$natural/],
    ['a transaction', { find: 'r', filter: {}, txnNumber: 1, autocommit: false }, 20, /Transaction/],
    [
      'startTransaction',
      { insert: 'r', documents: [{}], txnNumber: 1, startTransaction: true, autocommit: false },
      20,
      /Transaction/,
    ],
    ['an unknown update operator', { update: 'r', updates: [{ q: {}, u: { $frob: { a: 1 } } }] }, 9, /\$frob/],
    ['a pipeline update', { update: 'r', updates: [{ q: {}, u: [{ $set: { a: 1 } }] }] }, 115, /pipeline/],
    ['$out', { aggregate: 'r', pipeline: [{ $out: 'elsewhere' }], cursor: {} }, 115, /\$out/],
    [
      '$lookup with a pipeline',
      { aggregate: 'r', pipeline: [{ $lookup: { from: 'x', pipeline: [], as: 'y' } }], cursor: {} },
      115,
      /\$lookup/,
    ],
    ['a capped collection', { create: 'capped', capped: true, size: 1000 }, 115, /capped/],
    ['a validator', { create: 'validated', validator: { a: { $exists: true } } }, 115, /validator/],
    ['a text index', { createIndexes: 'r', indexes: [{ key: { s: 'text' }, name: 's_text' }] }, 115, /text/],
    ['a wildcard index', { createIndexes: 'r', indexes: [{ key: { '$**': 1 }, name: 'w' }] }, 115, /wildcard/],
    ['a hidden index', { createIndexes: 'r', indexes: [{ key: { s: 1 }, name: 's_1', hidden: true }] }, 115, /hidden/],
    ['authentication', { saslStart: 1, mechanism: 'SCRAM-SHA-256', payload: Buffer.alloc(0) }, 115, /authentication/],
    ['a hint naming no index', { find: 'r', filter: {}, hint: 'nope_1' }, 2, /hint/],
    ['abortTransaction', { abortTransaction: 1 }, 20, /Transaction numbers/],
    ['renameCollection', { renameCollection: 'test.r', to: 'test.s' }, 59, /renameCollection/],
  ])('refuses %s by name', async (_name, command, code, message) => {
    const result = await h.db.command(command).then(
      (reply) => ({ reply, error: undefined }),
      (error: { code?: number; message: string }) => ({ reply: undefined, error }),
    );
    // Write commands report a refused statement as a write error, as MongoDB does.
    const writeError = (result.reply?.['writeErrors'] as { code: number; errmsg: string }[] | undefined)?.[0];
    const refusal = writeError ? { code: writeError.code, message: writeError.errmsg } : result.error;
    expect(refusal).toBeDefined();
    expect(refusal?.code).toBe(code);
    expect(refusal?.message).toMatch(message);
    // Nothing was changed by the refused command.
    expect(await h.db.collection('r').countDocuments()).toBe(2);
  });

  it('closes only the connection that sent a malformed frame', async () => {
    const port = h.server.port;
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        const junk = Buffer.alloc(32, 0xff);
        junk.writeInt32LE(32, 0);
        junk.writeInt32LE(9999, 12); // an opCode nobody speaks
        socket.write(junk);
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        const absurd = Buffer.alloc(16);
        absurd.writeInt32LE(2_000_000_000, 0);
        socket.write(absurd);
      });
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    expect(await h.db.collection('r').countDocuments()).toBe(2);
  });
});
