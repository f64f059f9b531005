export { Tokenizer } from "./tokenizer.js";
export { StreamDecoder } from "./stream-decoder.js";
