import type { Gpt } from "./gpt.js";

/** Positions one sequence can hold: n_positions, or the KV cache's capacity if that is smaller. */
export function contextLimit(gpt: Gpt): number {
  return Math.min(gpt.config.nCtx, gpt.limits.kvCacheTokens);
}
