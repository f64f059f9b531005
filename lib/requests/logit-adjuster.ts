/**
 * The logit adjustments of one generation (NativeAdjustments), kept up to date as it picks
 * tokens: OpenAI's logit_bias (−100 bans a token outright), Hugging Face's repetition penalty
 * over the prompt and the generated ids, and OpenAI's presence and frequency penalties over the
 * generated ids, folded into one penalty per id (frequency × count + presence). The samplers
 * apply them in vLLM's order: bias, repetition penalty, penalty. Ids at or past `vocabLimit`
 * (a vocabulary padded past the tokenizer) are never picked, so they need no adjustment.
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
  private readonly active: boolean;

  constructor(
    private readonly settings: PenaltySettings,
    prompt: readonly number[],
    private readonly vocabLimit = Infinity,
  ) {
    this.inPrompt = settings.repetitionPenalty !== 1 ? new Set(prompt) : new Set();
    this.active =
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
    if (repetitionPenalty !== 1) for (const id of this.inPrompt) ids.add(id);
    if (repetitionPenalty !== 1 || presencePenalty !== 0 || frequencyPenalty !== 0) for (const id of this.counts.keys()) ids.add(id);
    for (const id of ids) if (id >= this.vocabLimit) ids.delete(id);
    if (ids.size === 0) return null;
    const out: NativeAdjustments = {
      ids: Int32Array.from(ids),
      repeated: new Uint8Array(ids.size),
      bias: new Float32Array(ids.size),
      penalty: new Float32Array(ids.size),
    };
    out.ids.forEach((id, k) => {
      const count = this.counts.get(id) ?? 0;
      const bias = logitBias.get(id) ?? 0;
      out.bias[k] = bias <= BAN ? -Infinity : bias;
      out.repeated[k] = repetitionPenalty !== 1 && (count > 0 || this.inPrompt.has(id)) ? 1 : 0;
      out.penalty[k] = count > 0 ? frequencyPenalty * count + presencePenalty : 0;
    });
    return out;
  }
}
