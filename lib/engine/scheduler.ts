/**
 * Decides who runs in each engine step (continuous batching, after vLLM's scheduler): first one
 * decode row for every running sequence that has a token to feed, then the next chunks of the
 * prompts being prefilled, oldest first, then newly admitted sequences from the FIFO queue (a
 * sequence that shares its leader's prompt lets those behind it pass until the leader has
 * computed that prompt) — all within `maxBatchTokens` rows and `maxSequences` running sequences. When a running
 * sequence needs a block and the pool has none, the most recently admitted sequence is preempted:
 * its blocks are released (full ones stay in the prefix cache) and it goes back to the front of
 * the queue, to be recomputed from its tokens. Touches memory only through the KvCacheManager.
 */
import type { KvCacheManager } from "./kv-cache-manager.js";
import type { Sequence } from "./sequence.js";

export interface SchedulerLimits {
  /** Running sequences at most. */
  maxSequences: number;
  /** Rows in one step at most; at least maxSequences, so every running sequence's decode row fits. */
  maxBatchTokens: number;
}

/** One sequence's share of a step: its tokens start … start + rows − 1. */
export interface ScheduledSegment {
  seq: Sequence;
  start: number;
  rows: number;
}

export class Scheduler {
  /** Sequences waiting to be admitted, first come first served (preempted ones go to the front). */
  readonly waiting: Sequence[] = [];
  /** Running sequences in the order they were admitted. */
  readonly running: Sequence[] = [];
  /** Sequences their owner paused; they hold no blocks. */
  readonly paused = new Set<Sequence>();

  constructor(
    private readonly kv: KvCacheManager,
    private readonly limits: SchedulerLimits,
  ) {}

  add(seq: Sequence): void {
    seq.state = "waiting";
    this.waiting.push(seq);
  }

  /** The next step's segments; empty when nothing can run. */
  schedule(): ScheduledSegment[] {
    const segments: ScheduledSegment[] = [];
    let budget = this.limits.maxBatchTokens;
    let preempted = false;
    // Decode rows first, so that a long prompt being prefilled never holds up running streams.
    const order = [...this.running.filter((s) => s.pending === 1), ...this.running.filter((s) => s.pending > 1)];
    for (const seq of order) {
      if (budget === 0) break;
      if (seq.state !== "running") continue; // preempted for an older sequence in this loop
      const rows = Math.min(seq.pending, budget);
      while (!this.kv.reserve(seq, seq.computed + rows)) {
        const victim = this.running.at(-1)!;
        const scheduled = segments.findIndex((s) => s.seq === victim);
        if (scheduled >= 0) budget += segments.splice(scheduled, 1)[0]!.rows;
        this.preempt(victim);
        preempted = true;
        if (victim === seq) break;
      }
      if (seq.state !== "running") continue;
      segments.push({ seq, start: seq.computed, rows });
      budget -= rows;
    }
    // Admitting right after a preemption would only trade the preempted blocks back and forth.
    if (preempted && segments.length > 0) return segments;
    for (let i = 0; i < this.waiting.length && this.running.length < this.limits.maxSequences && budget > 0; ) {
      const seq = this.waiting[i]!;
      if (this.awaitsLeader(seq)) {
        i++; // the sequences behind it need not wait too
        continue;
      }
      if (seq.sharesPrefix) this.kv.sharePrefix(seq);
      const rows = Math.min(seq.pending, budget);
      if (!this.kv.reserve(seq, seq.computed + rows)) {
        // A waiting sequence holds no blocks, so whatever it shared is there for the others.
        this.kv.release(seq);
        break;
      }
      this.waiting.splice(i, 1);
      if (!seq.admitted) seq.cachedTokens = seq.computed;
      seq.admitted = true;
      seq.state = "running";
      this.running.push(seq);
      segments.push({ seq, start: seq.computed, rows });
      budget -= rows;
    }
    return segments;
  }

  /** Takes the sequence out of the batch; it holds no blocks until resume() and re-admission. */
  pause(seq: Sequence): void {
    if (seq.state !== "running" && seq.state !== "waiting") return;
    this.detach(seq);
    seq.state = "paused";
    this.paused.add(seq);
  }

  /** A paused sequence joins the back of the queue. */
  resume(seq: Sequence): void {
    if (seq.state !== "paused") return;
    this.paused.delete(seq);
    this.add(seq);
  }

  /** The sequence is done (or cancelled): its blocks are released and it is forgotten. */
  finish(seq: Sequence): void {
    if (seq.state === "finished") return;
    this.detach(seq);
    this.paused.delete(seq);
    seq.state = "finished";
  }

  /** Every sequence the scheduler knows of. */
  all(): Sequence[] {
    return [...this.running, ...this.waiting, ...this.paused];
  }

  /**
   * Whether a sequence's first admission still waits for its leader to compute the prompt blocks
   * they share. It stops waiting once those are computed, or when the leader will not compute
   * them soon (it finished, paused, or was preempted).
   */
  private awaitsLeader(seq: Sequence): boolean {
    const leader = seq.leader;
    if (leader === null || seq.admitted) return false;
    if (leader.state === "finished" || leader.state === "paused" || (leader.state === "waiting" && leader.admitted)) return false;
    return leader.computed < this.kv.shareablePositions(seq);
  }

  private preempt(seq: Sequence): void {
    this.detach(seq);
    seq.state = "waiting";
    this.waiting.unshift(seq);
  }

  private detach(seq: Sequence): void {
    for (const list of [this.running, this.waiting]) {
      const at = list.indexOf(seq);
      if (at >= 0) list.splice(at, 1);
    }
    this.kv.release(seq);
  }
}
