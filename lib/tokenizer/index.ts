export { Tokenizer, type DecodeOptions, type EncodeOptions } from "./tokenizer.js";
export type { ReadOptions as TokenizerLoadOptions } from "./files.js";
export type { SpecialTokensAround } from "./post-processor.js";
export { StreamDecoder } from "./stream-decoder.js";
