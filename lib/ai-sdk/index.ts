/**
 * gpt-cuda/ai-sdk: a provider for the Vercel AI SDK (`ai`), in-process.
 *
 *   import { generateText } from "ai";
 *   import { gptCuda } from "gpt-cuda/ai-sdk";
 *   const { text } = await generateText({ model: gptCuda("gpt2"), prompt: "Once upon a time" });
 */
import type { Gpt } from "../gpt.js";
import { GptCudaLanguageModel, type GptCudaSettings } from "./language-model.js";

export { GptCudaLanguageModel, type GptCudaSettings } from "./language-model.js";
export type { GptCudaProviderOptions } from "./call-options.js";

/**
 * A language model for the AI SDK. `model` is what Gpt.load takes (a checkpoint path or a pulled
 * model's name; none: the bundled demo model), or a Gpt already loaded (shared with other code,
 * and not disposed by the provider). `settings`: Gpt.load's options, and a chatTemplate.
 */
export function gptCuda(model?: string | Gpt, settings?: GptCudaSettings): GptCudaLanguageModel {
  return new GptCudaLanguageModel(model, settings);
}
