export {
  Gpt,
  type RandomPreset,
  type GptConfig,
  type GenerateResult,
  type StreamChunk,
  type FinishReason,
  type GenerationStream,
  type KvCacheUsage,
} from "./gpt.js";
export type { BuildInfo, GpuDevice } from "./device.js";
export type { LoadOptions, GenerateOptions, Device, WeightDtype } from "./options.js";
export { GptError, GptLoadError, GptInputError, type GptErrorCode } from "./errors.js";
export { Tokenizer } from "./tokenizer/index.js";
