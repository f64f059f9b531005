/**
 * The engine loop: while any sequence can run, ask the scheduler for a step, run it as one
 * forward pass of the native model (NativeModel.step), and hand each sequence its results. One
 * step is in flight at a time; sequences join and leave between steps. Nothing here blocks on
 * a sequence's owner: an owner that stops reading pauses its sequence (which then holds no
 * slot and no blocks), and cancel() takes a sequence out at once or, if it is in the step
 * running now, as soon as that step ends.
 */
import type { NativeModel, NativeSegment, NativeStep, NativeStepResult } from "../../bindings.js";
import { BlockPool, type BlockPoolUsage } from "./block-pool.js";
import { KvCacheManager } from "./kv-cache-manager.js";
import { Scheduler, type ScheduledSegment, type SchedulerLimits } from "./scheduler.js";
import type { Pick, Sequence } from "./sequence.js";

export interface EngineOptions extends SchedulerLimits {
  /** Blocks in the native model's KV pool. */
  kvBlocks: number;
  blockSize: number;
  vocabSize: number;
  /** What a sequence's owner is failed with, for an error of the native step. */
  wrapError: (error: unknown) => unknown;
}

export interface SequenceCounts {
  running: number;
  waiting: number;
  paused: number;
}

export class Engine {
  private readonly pool: BlockPool;
  private readonly kv: KvCacheManager;
  private readonly scheduler: Scheduler;
  /** The sequences of the step now running, or null between steps. */
  private inFlight: Set<Sequence> | null = null;
  /** In-flight sequences to take out when their step ends, and the error to fail them with (null: cancelled). */
  private readonly leaving = new Map<Sequence, unknown>();
  private looping = false;
  private disposedBy: unknown = undefined;

  constructor(
    private readonly model: NativeModel,
    private readonly options: EngineOptions,
  ) {
    this.pool = new BlockPool(options.kvBlocks);
    this.kv = new KvCacheManager(this.pool, options.blockSize);
    this.scheduler = new Scheduler(this.kv, options);
  }

  usage(): BlockPoolUsage {
    return this.pool.usage();
  }

  /** Sequences in the batch, queued for a place in it, and paused by an owner that stopped reading. */
  sequences(): SequenceCounts {
    const { running, waiting, paused } = this.scheduler;
    return { running: running.length, waiting: waiting.length, paused: paused.size };
  }

  /** Queues a sequence; it runs as soon as a step has room for it. */
  submit(seq: Sequence): void {
    if (this.disposedBy !== undefined) {
      seq.owner.failed(this.disposedBy);
      return;
    }
    this.scheduler.add(seq);
    this.kick();
  }

  /** Ends a sequence for good (its owner settles itself); its blocks go back to the pool. */
  cancel(seq: Sequence): void {
    if (this.inFlight?.has(seq)) this.leaving.set(seq, null);
    else this.scheduler.finish(seq);
  }

  /** A sequence its owner paused (token() said "pause") joins the queue again. */
  resume(seq: Sequence): void {
    this.scheduler.resume(seq);
    this.kick();
  }

  /** Fails every sequence with `error` (those in the running step once it ends); later submits fail at once. */
  dispose(error: unknown): void {
    if (this.disposedBy !== undefined) return;
    this.disposedBy = error;
    for (const seq of this.scheduler.all()) this.fail(seq, error);
  }

  private kick(): void {
    // The loop catches what the model and the owners throw; anything escaping it is a bug here,
    // and rather than leave every call waiting on a loop that stopped, each is failed with it.
    if (!this.looping) this.loop().catch((e: unknown) => this.dispose(e));
  }

  private async loop(): Promise<void> {
    this.looping = true;
    try {
      while (this.disposedBy === undefined) {
        const scheduled = this.scheduler.schedule();
        if (scheduled.length === 0) return;
        const { segments, step: plan } = this.plan(scheduled);
        if (segments.length === 0) continue;
        this.inFlight = new Set(segments.map((s) => s.seq));
        let result: NativeStepResult | undefined;
        let error: unknown;
        try {
          result = await this.model.step(plan);
        } catch (e) {
          error = e;
        }
        this.inFlight = null;
        for (const { seq } of segments) {
          if (!this.leaving.has(seq)) continue;
          const why = this.leaving.get(seq);
          this.leaving.delete(seq);
          if (why === null) this.scheduler.finish(seq);
          else this.fail(seq, why);
        }
        if (result) this.apply(segments, result);
        else for (const { seq } of segments) this.fail(seq, this.options.wrapError(error));
      }
    } finally {
      this.looping = false;
    }
  }

  /**
   * The native step for these segments; each sampling segment draws its uniform number now. A
   * segment whose owner throws here is failed and left out (the others run); the segments kept
   * come back with the step.
   */
  private plan(scheduled: ScheduledSegment[]): { segments: ScheduledSegment[]; step: NativeStep } {
    const segments: ScheduledSegment[] = [];
    const native: NativeSegment[] = [];
    for (const segment of scheduled) {
      const { seq, start, rows } = segment;
      const last = start + rows === seq.tokens.length;
      try {
        const sample = seq.owner.output === "sample" && last ? seq.owner.sampling() : null;
        seq.owner.started();
        native.push({ rows, start, blocks: Int32Array.from(seq.blocks), logits: seq.owner.output === "logits" ? "all" : "none", sample });
        segments.push(segment);
      } catch (e) {
        this.fail(seq, e);
      }
    }
    const tokens = new Int32Array(segments.reduce((n, s) => n + s.rows, 0));
    let at = 0;
    for (const { seq, start, rows } of segments) for (let i = 0; i < rows; i++) tokens[at++] = seq.tokens[start + i]!;
    return { segments, step: { tokens, segments: native } };
  }

  private apply(segments: ScheduledSegment[], result: NativeStepResult): void {
    const vocab = this.options.vocabSize;
    let logitRow = 0;
    segments.forEach(({ seq, start, rows }, i) => {
      const logits =
        seq.owner.output === "logits" ? result.logits.subarray(logitRow * vocab, (logitRow += rows) * vocab) : null;
      if (seq.state === "finished") return; // cancelled while the step ran
      try {
        this.advance(seq, start + rows, logits, pickOf(result, i));
      } catch (e) {
        // An owner that throws (say, a token its tokenizer cannot decode) fails its own sequence only.
        this.fail(seq, e);
      }
    });
  }

  /** The sequence's positions up to `computed` are in its blocks; its owner hears of the logits or the pick. */
  private advance(seq: Sequence, computed: number, logits: Float32Array | null, pick: Pick): void {
    seq.computed = computed;
    this.kv.commit(seq);
    if (logits) {
      seq.owner.logits(computed - logits.length / this.options.vocabSize, logits);
      if (seq.pending === 0) {
        this.scheduler.finish(seq);
        seq.owner.done();
      }
      return;
    }
    if (seq.pending > 0) return; // a prompt chunk: the pick comes with its last one
    const verdict = seq.owner.token(pick);
    if (verdict === "finish") {
      this.scheduler.finish(seq);
      return;
    }
    seq.tokens.push(pick.token);
    if (verdict === "pause") this.scheduler.pause(seq);
  }

  private fail(seq: Sequence, error: unknown): void {
    if (this.inFlight?.has(seq)) {
      this.leaving.set(seq, error);
      return;
    }
    if (seq.state === "finished") return;
    this.scheduler.finish(seq);
    seq.owner.failed(error);
  }
}

/** Segment i's pick from a step's result (its alternatives sit in slots of NativeStepResult's stride). */
function pickOf(result: NativeStepResult, i: number): Pick {
  const count = result.topCounts[i]!;
  const stride = result.topIds.length / result.tokens.length;
  const top: Pick["top"] = [];
  for (let j = 0; j < count; j++)
    top.push({ token: result.topIds[i * stride + j]!, logprob: result.topLogprobs[i * stride + j]! });
  return { token: result.tokens[i]!, logprob: result.logprobs[i]!, top };
}
