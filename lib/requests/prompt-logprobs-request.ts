/**
 * One promptLogprobs() call as the engine's owner of its sequence: each prompt token's
 * log-probability under the logits of the position before it, with the likeliest tokens there —
 * what evaluation harnesses score a text by. Each chunk of rows is reduced as it arrives, so
 * memory stays at the answer's size however long the prompt (logits() would hold
 * ids.length × vocabSize floats). An AbortSignal cancels it within a step.
 */
import type { NativeSampling } from "../../bindings.js";
import type { Engine } from "../engine/engine.js";
import { Sequence, type SequenceOwner, type TokenVerdict } from "../engine/sequence.js";
import type { Tokenizer } from "../tokenizer/index.js";
import { onAbort } from "./abort-listeners.js";
import type { PromptTokenLogprob, TokenLogprob } from "./results.js";

export class PromptLogprobsRequest implements SequenceOwner {
  readonly output = "logits";
  readonly result: Promise<PromptTokenLogprob[]>;
  private readonly sequence: Sequence;
  private readonly out: PromptTokenLogprob[];
  private settle!: { resolve: (r: PromptTokenLogprob[]) => void; reject: (e: unknown) => void };
  private stopListening: () => void = () => {};

  constructor(
    private readonly engine: Engine,
    private readonly tokenizer: Tokenizer,
    private readonly ids: number[],
    private readonly vocabSize: number,
    private readonly top: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.sequence = new Sequence([...ids], this, false);
    this.out = ids.map((token) => ({ token, text: tokenizer.tokenText(token), logprob: null, topLogprobs: [] }));
    this.result = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
  }

  start(): Promise<PromptTokenLogprob[]> {
    const { signal } = this;
    if (signal?.aborted) {
      this.settle.reject(signal.reason);
      return this.result;
    }
    if (signal)
      this.stopListening = onAbort(signal, () => {
        this.engine.cancel(this.sequence);
        this.settle.reject(signal.reason);
      });
    this.engine.submit(this.sequence);
    return this.result;
  }

  sampling(): NativeSampling {
    throw new Error("a prompt-logprobs request picks no tokens");
  }

  started(): void {}

  token(): TokenVerdict {
    throw new Error("a prompt-logprobs request picks no tokens");
  }

  /** Row r holds the logits at position start + r, which score token start + r + 1. */
  logits(start: number, rows: Float32Array): void {
    const V = this.vocabSize;
    for (let r = 0; r * V < rows.length; r++) {
      const next = start + r + 1;
      if (next >= this.ids.length) break;
      const row = rows.subarray(r * V, (r + 1) * V);
      const lse = logSumExp(row);
      const entry = this.out[next]!;
      entry.logprob = row[entry.token]! - lse;
      entry.topLogprobs = likeliest(row, this.top).map((id) => this.alternative(id, row[id]! - lse));
    }
  }

  done(): void {
    this.stopListening();
    this.settle.resolve(this.out);
  }

  failed(error: unknown): void {
    this.stopListening();
    this.settle.reject(error);
  }

  private alternative(token: number, logprob: number): TokenLogprob {
    return { token, text: this.tokenizer.tokenText(token), logprob };
  }
}

/** log Σ exp(row), in double precision. */
function logSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return max + Math.log(sum);
}

/** The n largest entries' indices, largest first (ties: the lower id first). */
function likeliest(row: Float32Array, n: number): number[] {
  const best: number[] = [];
  if (n === 0) return best;
  for (let id = 0; id < row.length; id++) {
    const v = row[id]!;
    if (best.length === n && v <= row[best[n - 1]!]!) continue;
    let at = best.length === n ? n - 1 : best.length;
    while (at > 0 && row[best[at - 1]!]! < v) at--;
    best.splice(at, 0, id);
    if (best.length > n) best.pop();
  }
  return best;
}
