/**
 * What the adapters log through: a structured object, then a message, as pino and bunyan take them.
 * Outages are expected events here (warn), lost pushes are not (error).
 */
export interface AdapterLogger {
  debug(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}
