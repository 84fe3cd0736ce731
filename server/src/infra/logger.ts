import pino, { type Logger } from 'pino';
import type { LogLevel } from '../config';

export type { Logger };

/**
 * Structured JSON logs on stdout. Tokens, passwords and secrets are redacted wherever they appear
 * in a logged object, so a debug log of a request never leaks a credential.
 */
export function createLogger(level: LogLevel): Logger {
  return pino({
    level,
    base: { service: 'parley' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        '*.token',
        '*.password',
        '*.secret',
        'token',
        'password',
        'secret',
      ],
      censor: '[redacted]',
    },
  });
}
