/**
 * Finds stop strings in text that arrives piece by piece. Text that could still turn into a
 * stop string (a suffix equal to some stop string's prefix) is held back until it can't.
 */
export class StopMatcher {
  private held = "";

  constructor(private readonly stops: readonly string[]) {}

  /** Adds text; returns what may be emitted, and whether a stop string was reached. */
  push(text: string): { emit: string; stopped: boolean } {
    const pending = this.held + text;
    let cut = -1;
    for (const stop of this.stops) {
      const at = pending.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.held = "";
      return { emit: pending.slice(0, cut), stopped: true };
    }
    const keep = this.partialSuffixLength(pending);
    this.held = pending.slice(pending.length - keep);
    return { emit: pending.slice(0, pending.length - keep), stopped: false };
  }

  /** Releases what was held back (generation ended for another reason). */
  flush(): string {
    const rest = this.held;
    this.held = "";
    return rest;
  }

  private partialSuffixLength(text: string): number {
    let best = 0;
    for (const stop of this.stops)
      for (let n = Math.min(stop.length - 1, text.length); n > best; n--)
        if (text.endsWith(stop.slice(0, n))) {
          best = n;
          break;
        }
    return best;
  }
}
