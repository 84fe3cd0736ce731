import { AppError } from '../errors';

/**
 * A project that lists its websites accepts visitors only from those origins. Browsers always send
 * `Origin` on cross-origin requests and WebSocket handshakes, so this stops another website from
 * embedding the widget; requests without an Origin (servers, native apps, the Node SDK) pass.
 */
export function assertOriginAllowed(allowedOrigins: readonly string[] | '*', origin: string | undefined): void {
  if (!origin || allowedOrigins === '*' || allowedOrigins.length === 0) return;
  if (!allowedOrigins.includes(origin)) {
    throw new AppError('FORBIDDEN', `Origin ${origin} is not allowed for this project`);
  }
}
