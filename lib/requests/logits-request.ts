/**
 * One logits() call as the engine's owner of its sequence: every row's logits, collected as the
 * prompt runs through in chunks. It never shares a cached prefix (each position's logits must be
 * computed), but its full blocks enter the prefix cache for later prompts.
 */
import type { NativeSampling } from "../../bindings.js";
import type { Engine } from "../engine/engine.js";
import { Sequence, type SequenceOwner, type TokenVerdict } from "../engine/sequence.js";

export class LogitsRequest implements SequenceOwner {
  readonly output = "logits";
  readonly result: Promise<Float32Array>;
  private readonly sequence: Sequence;
  private readonly out: Float32Array;
  private settle!: { resolve: (r: Float32Array) => void; reject: (e: unknown) => void };

  constructor(
    private readonly engine: Engine,
    ids: number[],
    private readonly vocabSize: number,
  ) {
    this.sequence = new Sequence([...ids], this, false);
    this.out = new Float32Array(ids.length * vocabSize);
    this.result = new Promise<Float32Array>((resolve, reject) => (this.settle = { resolve, reject }));
  }

  start(): Promise<Float32Array> {
    this.engine.submit(this.sequence);
    return this.result;
  }

  sampling(): NativeSampling {
    throw new Error("a logits request picks no tokens");
  }

  started(): void {}

  token(): TokenVerdict {
    throw new Error("a logits request picks no tokens");
  }

  logits(start: number, rows: Float32Array): void {
    this.out.set(rows, start * this.vocabSize);
  }

  done(): void {
    this.settle.resolve(this.out);
  }

  failed(error: unknown): void {
    this.settle.reject(error);
  }
}
