import { deserialize, serialize, Long, type Document } from 'bson';
import { toBuffer } from './bytes';
import { DESERIALIZE_OPTIONS, normalizeNumbers } from './storage/numbers';

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

/** MongoDB's own limit on one message. */
export const MAX_MESSAGE_BYTES = 48_000_000;
export const HEADER_BYTES = 16;

const FLAG_CHECKSUM_PRESENT = 1 << 0;
const FLAG_MORE_TO_COME = 1 << 1;
/** Bits 0–15 are required: a receiver must refuse a message with one it does not know (bit 16, exhaustAllowed, is optional). */
const REQUIRED_FLAG_BITS = 0xffff;

/**
 * Values keep their BSON types: numbers are decoded unpromoted and put in the normal form of
 * storage/numbers.ts (int32 and most doubles as JavaScript numbers, int64 as Long, a double that
 * looks like an int32 as Double); regular expressions stay BSON regexes (bson's RegExp conversion
 * maps the `s` option to a global flag), and are compiled with MongoDB's meaning where used.
 */
export { DESERIALIZE_OPTIONS };

export interface Header {
  length: number;
  requestId: number;
  responseTo: number;
  opCode: number;
}

export type Request =
  | { kind: 'msg'; header: Header; body: Document; moreToCome: boolean }
  | { kind: 'query'; header: Header; fullCollectionName: string; query: Document };

/** A message that cannot be understood: the connection it came on is closed. */
export class ProtocolError extends Error {}

export function readHeader(buffer: Buffer): Header {
  return {
    length: buffer.readInt32LE(0),
    requestId: buffer.readInt32LE(4),
    responseTo: buffer.readInt32LE(8),
    opCode: buffer.readInt32LE(12),
  };
}

function readCString(buffer: Buffer, offset: number, limit: number): { value: string; next: number } {
  const end = buffer.indexOf(0, offset);
  if (end < 0 || end >= limit) throw new ProtocolError('unterminated cstring');
  return { value: buffer.toString('utf8', offset, end), next: end + 1 };
}

function readDocument(buffer: Buffer, offset: number, limit: number): { doc: Document; next: number } {
  if (offset + 5 > limit) throw new ProtocolError('truncated document');
  const size = buffer.readInt32LE(offset);
  if (size < 5 || offset + size > limit) throw new ProtocolError(`bad document size ${size}`);
  let doc: Document;
  try {
    doc = normalizeNumbers(deserialize(buffer.subarray(offset, offset + size), DESERIALIZE_OPTIONS)) as Document;
  } catch (error) {
    throw new ProtocolError(`invalid BSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { doc, next: offset + size };
}

function parseOpMsg(message: Buffer, header: Header): Request {
  if (message.length < HEADER_BYTES + 5) throw new ProtocolError('OP_MSG too short');
  const flags = message.readUInt32LE(HEADER_BYTES);
  const unknown = flags & REQUIRED_FLAG_BITS & ~(FLAG_CHECKSUM_PRESENT | FLAG_MORE_TO_COME);
  if (unknown !== 0) throw new ProtocolError(`OP_MSG has unknown required flag bits ${unknown.toString(2)}`);
  // The CRC-32C checksum is not verified (TCP already protects the bytes); it is just skipped.
  const end = flags & FLAG_CHECKSUM_PRESENT ? message.length - 4 : message.length;
  let offset = HEADER_BYTES + 4;
  let body: Document | undefined;
  const sequences = new Map<string, Document[]>();
  while (offset < end) {
    const kind = message.readUInt8(offset);
    offset += 1;
    if (kind === 0) {
      if (body) throw new ProtocolError('OP_MSG with more than one body section');
      const read = readDocument(message, offset, end);
      body = read.doc;
      offset = read.next;
    } else if (kind === 1) {
      if (offset + 4 > end) throw new ProtocolError('truncated document sequence');
      const size = message.readInt32LE(offset);
      const sectionEnd = offset + size;
      if (size < 5 || sectionEnd > end) throw new ProtocolError('bad document sequence size');
      const id = readCString(message, offset + 4, sectionEnd);
      if (sequences.has(id.value)) throw new ProtocolError(`duplicate document sequence ${id.value}`);
      const docs: Document[] = [];
      let at = id.next;
      while (at < sectionEnd) {
        const read = readDocument(message, at, sectionEnd);
        docs.push(read.doc);
        at = read.next;
      }
      sequences.set(id.value, docs);
      offset = sectionEnd;
    } else {
      throw new ProtocolError(`unknown OP_MSG section kind ${kind}`);
    }
  }
  if (!body) throw new ProtocolError('OP_MSG without a body section');
  for (const [name, docs] of sequences) {
    if (Object.prototype.hasOwnProperty.call(body, name))
      throw new ProtocolError(`document sequence ${name} duplicates a body field`);
    // Defined, not assigned: an identifier named `__proto__` must not replace the body's prototype.
    Object.defineProperty(body, name, { value: docs, writable: true, enumerable: true, configurable: true });
  }
  return { kind: 'msg', header, body, moreToCome: (flags & FLAG_MORE_TO_COME) !== 0 };
}

function parseOpQuery(message: Buffer, header: Header): Request {
  const name = readCString(message, HEADER_BYTES + 4, message.length);
  const queryAt = name.next + 8; // numberToSkip, numberToReturn
  const { doc } = readDocument(message, queryAt, message.length);
  // Legacy handshakes may wrap the command: { $query: { isMaster: 1 }, $readPreference: … }.
  const wrapped = doc['$query'];
  const query =
    wrapped !== null && typeof wrapped === 'object' && !Array.isArray(wrapped) ? (wrapped as Document) : doc;
  return { kind: 'query', header, fullCollectionName: name.value, query };
}

/**
 * Parses one whole message. OP_MSG's kind-1 document sequences (how the driver sends `documents`,
 * `updates`, `deletes`) are folded into the body under their identifier, as a server does.
 */
export function parseMessage(message: Buffer): Request {
  const header = readHeader(message);
  if (header.opCode === OP_MSG) return parseOpMsg(message, header);
  if (header.opCode === OP_QUERY) return parseOpQuery(message, header);
  if (header.opCode === OP_COMPRESSED) {
    throw new ProtocolError('OP_COMPRESSED is not supported (embedded-mongo offers no compressor)');
  }
  throw new ProtocolError(`unsupported opCode ${header.opCode}`);
}

let nextRequestId = 1;

function header(length: number, responseTo: number, opCode: number): Buffer {
  const buffer = Buffer.alloc(HEADER_BYTES);
  buffer.writeInt32LE(length, 0);
  buffer.writeInt32LE(nextRequestId, 4);
  nextRequestId = (nextRequestId % 0x7fffffff) + 1;
  buffer.writeInt32LE(responseTo, 8);
  buffer.writeInt32LE(opCode, 12);
  return buffer;
}

export function encodeMsgReply(responseTo: number, body: Document): Buffer {
  const doc = toBuffer(serialize(body));
  const flagsAndKind = Buffer.alloc(5);
  return Buffer.concat([header(HEADER_BYTES + 5 + doc.length, responseTo, OP_MSG), flagsAndKind, doc]);
}

export function encodeOpReply(responseTo: number, body: Document): Buffer {
  const doc = toBuffer(serialize(body));
  const fields = Buffer.alloc(20);
  fields.writeInt32LE(0, 0); // responseFlags
  fields.writeBigInt64LE(Long.ZERO.toBigInt(), 4); // cursorID
  fields.writeInt32LE(0, 12); // startingFrom
  fields.writeInt32LE(1, 16); // numberReturned
  return Buffer.concat([header(HEADER_BYTES + 20 + doc.length, responseTo, OP_REPLY), fields, doc]);
}
