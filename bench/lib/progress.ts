// Progress on stderr while the bench runs, so stdout carries only the table or the JSON.
// On a terminal each step overwrites the last; elsewhere (a pipe, a log) each is one line.

export class Progress {
  private readonly start = performance.now();
  private readonly tty: boolean;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
    private readonly enabled = true,
  ) {
    this.tty = out.isTTY === true;
  }

  /** Seconds since the bench started. */
  elapsed(): number {
    return (performance.now() - this.start) / 1000;
  }

  step(label: string): void {
    if (!this.enabled) return;
    const line = `[${this.elapsed().toFixed(1).padStart(5)}s] ${label}`;
    this.out.write(this.tty ? `\r\x1b[K${line}` : `${line}\n`);
  }

  /** Ends the progress display, leaving a last line. */
  done(label: string): void {
    if (!this.enabled) return;
    this.step(label);
    if (this.tty) this.out.write("\n");
  }
}
