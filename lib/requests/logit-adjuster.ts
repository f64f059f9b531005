/**
 * The logit adjustments of one generation (NativeAdjustments), kept up to date as it picks
 * tokens: OpenAI's logit_bias (−100 bans a token outright), Hugging Face's repetition penalty
 * over the prompt and the generated ids, and OpenAI's presence and frequency penalties over the
 * generated ids, folded into one penalty per id (frequency × count + presence). The samplers
 * apply them in vLLM's order: bias, repetition penalty, penalty. Ids the tokenizer has no token
 * for (a vocabulary padded past the tokenizer, as OPT's and BLOOM's are) are banned always: they
 * could not be decoded, and the logits keep their full width.
 */
import type { NativeAdjustments } from "../../bindings.js";

export interface PenaltySettings {
  repetitionPenalty: number;
  presencePenalty: number;
  frequencyPenalty: number;
  /** Token id → bias in [−100, 100]. */
  logitBias: ReadonlyMap<number, number>;
}

/** The bias that bans a token: OpenAI documents −100 as a ban, so it is one exactly. */
const BAN = -100;

export class LogitAdjuster {
  /** Generated ids → how often each was picked. */
  private readonly counts = new Map<number, number>();
  private readonly inPrompt: ReadonlySet<number>;
  private readonly unusableSet: ReadonlySet<number>;
  private readonly active: boolean;

  constructor(
    private readonly settings: PenaltySettings,
    prompt: readonly number[],
    /** Ids never to pick. */
    private readonly unusable: readonly number[] = [],
  ) {
    this.inPrompt = settings.repetitionPenalty !== 1 ? new Set(prompt) : new Set();
    this.unusableSet = new Set(unusable);
    this.active =
      unusable.length > 0 ||
      settings.logitBias.size > 0 ||
      settings.repetitionPenalty !== 1 ||
      settings.presencePenalty !== 0 ||
      settings.frequencyPenalty !== 0;
  }

  /** A token the generation picked (it now counts as generated). */
  accept(token: number): void {
    if (this.active) this.counts.set(token, (this.counts.get(token) ?? 0) + 1);
  }

  /** The adjustments for the next pick, or null when there are none. */
  adjustments(): NativeAdjustments | null {
    if (!this.active) return null;
    const { repetitionPenalty, presencePenalty, frequencyPenalty, logitBias } = this.settings;
    const ids = new Set<number>(logitBias.keys());
    for (const id of this.unusable) ids.add(id);
    if (repetitionPenalty !== 1) for (const id of this.inPrompt) ids.add(id);
    if (repetitionPenalty !== 1 || presencePenalty !== 0 || frequencyPenalty !== 0) for (const id of this.counts.keys()) ids.add(id);
    if (ids.size === 0) return null;
    const out: NativeAdjustments = {
      ids: Int32Array.from(ids),
      repeated: new Uint8Array(ids.size),
      bias: new Float32Array(ids.size),
      penalty: new Float32Array(ids.size),
    };
    out.ids.forEach((id, k) => {
      const count = this.counts.get(id) ?? 0;
      const bias = this.unusableSet.has(id) ? BAN : (logitBias.get(id) ?? 0);
      out.bias[k] = bias <= BAN ? -Infinity : bias;
      out.repeated[k] = repetitionPenalty !== 1 && (count > 0 || this.inPrompt.has(id)) ? 1 : 0;
      out.penalty[k] = count > 0 ? frequencyPenalty * count + presencePenalty : 0;
    });
    return out;
  }
}
