import { AppError } from '../errors';

/** An opaque keyset cursor over `(createdAt, _id)`, for lists paged newest first. */
export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.getTime(), id])).toString('base64url');
}

/** The cursor's position; anything this server did not issue is a `BAD_REQUEST` naming `cursor`. */
export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [time, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof time === 'number' && Number.isFinite(time) && typeof id === 'string')
      return { createdAt: new Date(time), id };
  } catch {
    // answered below
  }
  throw new AppError('BAD_REQUEST', 'Invalid cursor', {
    fields: [{ field: 'cursor', message: 'is not a cursor of this list' }],
  });
}
