export {
  Gpt,
  type RandomPreset,
  type GptConfig,
  type GenerateResult,
  type GenerateNOptions,
  type ChatOptions,
  type ChatNOptions,
  type Prompt,
  type StreamChunk,
  type TokenLogprob,
  type TokenLogprobs,
  type PromptTokenLogprob,
  type FinishReason,
  type GenerationStream,
  type KvCacheUsage,
} from "./gpt.js";
export type { BuildInfo, GpuDevice } from "./device.js";
export type { LoadOptions, Device, WeightDtype, ComputeMode } from "./options.js";
export type { GenerateOptions } from "./generate-options.js";
export type { PullOptions, PullProgressEvent, PullResult } from "./hub/pull.js";
export type { ChatMessage, ChatRole } from "./chat/messages.js";
export { GptError, GptLoadError, GptInputError, type GptErrorCode } from "./errors.js";
export { Tokenizer } from "./tokenizer/index.js";
