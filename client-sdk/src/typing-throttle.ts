/** "Is typing" goes out at most this often while it stays true; "stopped" goes out at once. */
const TYPING_REPEAT_MS = 3000;

/** Keeps typing indicators cheap: one event per few seconds while typing, one when it stops. */
export class TypingThrottle {
  private lastSentAt = 0;
  private lastState = false;

  constructor(private readonly send: (typing: boolean) => void) {}

  set(typing: boolean): void {
    const now = Date.now();
    if (typing) {
      if (this.lastState && now - this.lastSentAt < TYPING_REPEAT_MS) return;
    } else if (!this.lastState) {
      return;
    }
    this.lastState = typing;
    this.lastSentAt = now;
    this.send(typing);
  }
}
