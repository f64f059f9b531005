/** The Hugging Face checkpoint loader: validated descriptions of weights on disk, no tensor data. */
export { loadCheckpoint } from "./load.js";
export type { Checkpoint, EngineTensor, ModelConfig, ModelDims, StoredDtype, TensorRef, TokenizerFiles } from "./types.js";
export { parseConfig, readConfig, SUPPORTED_MODEL_TYPES } from "./config.js";
export { expectedTensorShapes, gpt2Config } from "../arch/index.js";
export {
  MAX_HEADER_BYTES,
  parseSafetensorsHeader,
  readSafetensorsHeader,
  SAFETENSORS_DTYPE_SIZES,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from "./safetensors.js";
export {
  CONFIG_FILE,
  findWeights,
  locateCheckpoint,
  SHARD_INDEX_FILE,
  SINGLE_WEIGHTS_FILE,
  type CheckpointLocation,
  type WeightsLayout,
} from "./locate.js";
export { readShardIndex, type ShardIndex } from "./shard-index.js";
export { findTokenizerFiles } from "./tokenizer-files.js";
