/**
 * Admission control: the server takes sequences up to what the engine runs at once plus a
 * bounded queue, and answers 429 (with retry-after) beyond it, so that a burst gets a quick
 * "try again" instead of an unbounded wait.
 */
import { ApiError, invalid } from "./api-error.js";

export class Admission {
  private held = 0;

  /** `capacity`: sequences running or waiting at most (maxSequences + the queue). */
  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.held;
  }

  /** Takes `count` sequences (a request's prompts × n); the returned function gives them back, once. */
  admit(count: number): () => void {
    if (count > this.capacity)
      throw invalid(`this request needs ${count} sequences (prompts × n), over the server's ${this.capacity}`, "n");
    if (this.held + count > this.capacity)
      throw new ApiError(
        429,
        "rate_limit_error",
        `the server is at capacity (${this.held} of ${this.capacity} sequences running or queued): retry shortly`,
        null,
        "queue_full",
        { "retry-after": "1" },
      );
    this.held += count;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= count;
    };
  }
}
