/**
 * One sequence the engine runs: its tokens (the prompt, then each token picked for it), how many
 * of them have keys and values in its KV blocks, and which blocks those are. The scheduler moves
 * it between states; its owner (a generation or a logits request) hears of each step's results.
 */
import type { NativeSampling } from "../../bindings.js";

export type SequenceState = "waiting" | "running" | "paused" | "finished";

/** A token picked for a sequence: its logprob and the alternatives its sampling asked for, from the raw logits. */
export interface Pick {
  token: number;
  logprob: number;
  top: { token: number; logprob: number }[];
}

/** What the owner does with a picked token. */
export type TokenVerdict = "continue" | "pause" | "finish";

export interface SequenceOwner {
  /** "sample": each time its tokens are all computed, a next token is picked; "logits": the logits of every row are wanted, and the sequence ends once its tokens are computed. */
  readonly output: "sample" | "logits";
  /** The next pick's parameters, its uniform number drawn now (called once per pick, in order). */
  sampling(): NativeSampling;
  /** The sequence ran for the first time (its queueing ends). */
  started(): void;
  /** The pick; the verdict says whether the sequence goes on (the token appended), pauses, or is done. */
  token(pick: Pick): TokenVerdict;
  /** Logits of positions start … start + rows − 1 ("logits" sequences). */
  logits(start: number, rows: Float32Array): void;
  /** Its tokens are all computed ("logits" sequences). */
  done(): void;
  /** The sequence cannot go on: the engine failed or was disposed. */
  failed(error: unknown): void;
}

export class Sequence {
  /** Positions whose keys and values are in `blocks`. */
  computed = 0;
  /** The block table: blocks[i] holds positions 16i … 16i + 15. */
  blocks: number[] = [];
  /** Leading blocks already in the prefix cache (shared or registered). */
  registered = 0;
  /** Prefix-cache keys of the blocks computed so far, by block index (kv-cache-manager.ts). */
  readonly keys: string[] = [];
  state: SequenceState = "waiting";
  /** Prompt tokens taken from the prefix cache at the first admission. */
  cachedTokens = 0;
  /** Whether it has been admitted once (later admissions follow a pause or a preemption). */
  admitted = false;
  /**
   * A sequence with the same prompt whose first admission waits until this one has computed it,
   * so that it finds the prompt's full blocks in the prefix cache instead of computing them too.
   */
  leader: Sequence | null = null;

  constructor(
    /** The prompt, then each picked token. */
    readonly tokens: number[],
    readonly owner: SequenceOwner,
    /** Whether it may start from a cached prefix (not for logits, which needs every row computed). */
    readonly sharesPrefix: boolean,
  ) {}

  /** Tokens still to run through the model. */
  get pending(): number {
    return this.tokens.length - this.computed;
  }
}
