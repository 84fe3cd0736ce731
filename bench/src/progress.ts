/**
 * One progress line per scenario step, on stderr so stdout keeps only the summary. On a terminal
 * the line is rewritten in place; otherwise (CI, a pipe) it is printed at most every few seconds.
 */
export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private lastPrint = 0;
  private label = '';

  start(label: string): void {
    this.label = label;
    this.lastPrint = 0;
    this.write(`${label} …`, true);
  }

  update(detail: string): void {
    const now = Date.now();
    if (!this.tty && now - this.lastPrint < 3000) return;
    this.lastPrint = now;
    this.write(`${this.label} … ${detail}`, false);
  }

  done(detail: string): void {
    this.write(`${this.label}: ${detail}`, true, true);
  }

  private write(text: string, force: boolean, final = false): void {
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${text}${final ? '\n' : ''}`);
    } else if (force || final || text) {
      process.stderr.write(`${text}\n`);
    }
  }
}
