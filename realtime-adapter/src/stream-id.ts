/**
 * Redis stream entry ids: `<milliseconds>-<sequence>`, ordered by time, then by sequence. The
 * time is Redis's clock when the entry was added, which lets a node judge an offset's age.
 */
const STREAM_ID = /^(\d{1,16})-(\d{1,16})$/;

export function isStreamId(value: unknown): value is string {
  return typeof value === 'string' && STREAM_ID.test(value);
}

function parts(id: string): [number, number] {
  const match = STREAM_ID.exec(id);
  if (!match) throw new Error(`not a stream id: ${id}`);
  return [Number(match[1]), Number(match[2])];
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = parts(a);
  const [bm, bs] = parts(b);
  return am !== bm ? am - bm : as - bs;
}

/** The smallest id after `id`: XRANGE's start is inclusive, and `(` needs Redis 6.2. */
export function nextStreamId(id: string): string {
  const [ms, seq] = parts(id);
  return `${ms}-${seq + 1}`;
}

/** When the entry was added, in milliseconds since the epoch (Redis's clock). */
export function streamIdTime(id: string): number {
  return parts(id)[0];
}

/** The position just before every entry added from `ms` on. */
export function streamIdAt(ms: number): string {
  return `${Math.max(0, Math.floor(ms))}-0`;
}

/**
 * The offset given with a packet delivered before it was recorded in the stream (Redis away or
 * slow). A socket holding it cannot have its session restored (no entry has that id, and it is
 * older than any recovery window), so it is told to reload: the honest answer, since its missed
 * packets may not all be in the stream.
 */
export const UNRECORDED_OFFSET = '0-0';
