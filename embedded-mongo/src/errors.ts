/**
 * MongoDB's error codes, so that the driver and mongoose raise exactly the errors they would raise
 * against a real server.
 */
export const ErrorCodes = {
  InternalError: 1,
  BadValue: 2,
  NoSuchKey: 4,
  UnknownError: 8,
  FailedToParse: 9,
  TypeMismatch: 14,
  IllegalOperation: 20,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  PathNotViable: 28,
  ConflictingUpdateOperators: 40,
  CursorNotFound: 43,
  NamespaceExists: 48,
  DollarPrefixedFieldName: 52,
  InvalidIdField: 53,
  EmptyFieldName: 56,
  CommandNotFound: 59,
  ImmutableField: 66,
  CannotCreateIndex: 67,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  CommandNotSupported: 115,
  InvalidPipelineOperator: 168,
  CannotIndexParallelArrays: 171,
  DuplicateKey: 11000,
  BSONObjectTooLarge: 10334,
  Location15952: 15952,
  Location15955: 15955,
  Location16020: 16020,
  OutOfDiskSpace: 14031,
  Location17044: 17044,
  Location17045: 17045,
  Location31024: 31024,
  Location40081: 40081,
  Location40090: 40090,
  Location40097: 40097,
  Location40234: 40234,
  Location51075: 51075,
  Location51103: 51103,
  Location51104: 51104,
  Location51105: 51105,
  Location51106: 51106,
  Location17419: 17419,
  Location17420: 17420,
  Location40415: 40415,
  Location51091: 51091,
  Location40386: 40386,
  Location40391: 40391,
  Location40392: 40392,
  Location40393: 40393,
  Location40394: 40394,
  Location40395: 40395,
  Location40396: 40396,
  Location40397: 40397,
  Location40398: 40398,
  Location40400: 40400,
  Location4940400: 4940400,
  Location4940401: 4940401,
} as const;

export type ErrorCodeName = keyof typeof ErrorCodes;

export class MongoCommandError extends Error {
  readonly code: number;

  constructor(
    readonly codeName: ErrorCodeName,
    message: string,
    /** Extra reply fields (`keyPattern`, `keyValue` for duplicate keys). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.code = ErrorCodes[codeName];
  }

  toReply(): Record<string, unknown> {
    return { ok: 0, errmsg: this.message, code: this.code, codeName: this.codeName, ...this.extra };
  }
}

/** What embedded-mongo refuses rather than answer differently from MongoDB. */
export function notSupported(what: string): MongoCommandError {
  return new MongoCommandError('CommandNotSupported', `${what} is not supported by embedded-mongo`);
}

export function badValue(message: string): MongoCommandError {
  return new MongoCommandError('BadValue', message);
}
