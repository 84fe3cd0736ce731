import { Types } from 'mongoose';

/**
 * Ids are opaque strings (ObjectId hex, time-ordered). Storing them as strings rather than
 * ObjectIds means a malformed id from a client simply finds nothing, instead of failing a cast.
 */
export function newId(): string {
  return new Types.ObjectId().toHexString();
}

export const iso = (date: Date): string => date.toISOString();
export const isoOrUndefined = (date: Date | null | undefined): string | undefined =>
  date ? date.toISOString() : undefined;
