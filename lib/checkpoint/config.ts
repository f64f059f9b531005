/** Parse and validate a Hugging Face GPT-2 config.json into a ModelConfig. */
import { GptLoadError } from "../errors.js";
import { isJsonObject, readJsonFile, showValue } from "./fs-util.js";
import type { ModelConfig } from "./types.js";

/** Activations we run: both names mean GPT-2's tanh approximation of GELU. */
export const SUPPORTED_ACTIVATIONS: readonly string[] = ["gelu_new", "gelu_pytorch_tanh"];
/** `architectures` entries accepted when config.json has no model_type. */
export const SUPPORTED_ARCHITECTURES: readonly string[] = ["GPT2LMHeadModel", "GPT2Model"];

/** Hugging Face's GPT2Config default, used when config.json leaves layer_norm_epsilon out. */
const DEFAULT_LAYER_NORM_EPSILON = 1e-5;
/** config.json is a few hundred bytes; refuse anything absurdly large before reading it. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** Read `file` (a config.json) and validate it; every failure is a GptLoadError naming `file`. */
export async function readConfig(file: string): Promise<ModelConfig> {
  return parseConfig(await readJsonFile(file, MAX_CONFIG_BYTES), file);
}

/** Validate the parsed contents of config.json. `file` is only used in error messages. */
export function parseConfig(json: unknown, file: string): ModelConfig {
  const bad = (problem: string): GptLoadError => new GptLoadError("E_CHECKPOINT", file, problem);
  const unsupported = (problem: string): GptLoadError => new GptLoadError("E_UNSUPPORTED", file, problem);

  if (!isJsonObject(json)) {
    throw bad(`expected a JSON object, got ${Array.isArray(json) ? "an array" : showValue(json)}`);
  }

  checkArchitecture(json, bad, unsupported);

  const activation = json["activation_function"] ?? "gelu_new";
  if (typeof activation !== "string") {
    throw bad(`activation_function must be a string, got ${showValue(activation)}`);
  }
  if (!SUPPORTED_ACTIVATIONS.includes(activation)) {
    throw unsupported(
      `activation_function "${activation}" is not supported (supported: ${SUPPORTED_ACTIVATIONS.map((a) => `"${a}"`).join(", ")})`,
    );
  }

  // Variants of the GPT-2 block that the engine does not implement.
  const flag = (key: string): unknown => json[key];
  const tie = flag("tie_word_embeddings");
  if (tie !== undefined && typeof tie !== "boolean") {
    throw bad(`tie_word_embeddings must be true or false, got ${showValue(tie)}`);
  }
  if (tie === false) {
    throw unsupported("tie_word_embeddings: false is not supported (the LM head must be tied to wte)");
  }
  for (const key of ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"]) {
    const value = flag(key);
    if (value === undefined || value === null || value === false) continue;
    if (value === true) throw unsupported(`${key}: true is not supported`);
    throw bad(`${key} must be true or false, got ${showValue(value)}`);
  }
  const scale = flag("scale_attn_weights");
  if (scale === false) {
    throw unsupported("scale_attn_weights: false is not supported (attention is always scaled by 1/sqrt(head size))");
  }

  const positiveInt = (key: string, value: unknown): number => {
    if (value === undefined) throw bad(`missing ${key}`);
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
      throw bad(`${key} must be a positive integer, got ${showValue(value)}`);
    }
    return value;
  };

  const nLayer = positiveInt("n_layer", json["n_layer"]);
  const nHead = positiveInt("n_head", json["n_head"]);
  const nEmbd = positiveInt("n_embd", json["n_embd"]);
  const vocabSize = positiveInt("vocab_size", json["vocab_size"]);
  let nCtx: number;
  if (json["n_positions"] !== undefined && json["n_positions"] !== null) {
    nCtx = positiveInt("n_positions", json["n_positions"]);
  } else if (json["n_ctx"] !== undefined && json["n_ctx"] !== null) {
    nCtx = positiveInt("n_ctx", json["n_ctx"]);
  } else {
    throw bad("missing n_positions (and no n_ctx to fall back on)");
  }
  const innerRaw = json["n_inner"];
  const nInner = innerRaw === undefined || innerRaw === null ? 4 * nEmbd : positiveInt("n_inner", innerRaw);

  if (nEmbd % nHead !== 0) {
    throw bad(`n_embd (${nEmbd}) is not divisible by n_head (${nHead})`);
  }

  const epsRaw = json["layer_norm_epsilon"];
  let layerNormEpsilon = DEFAULT_LAYER_NORM_EPSILON;
  if (epsRaw !== undefined) {
    if (typeof epsRaw !== "number" || !Number.isFinite(epsRaw) || epsRaw <= 0) {
      throw bad(`layer_norm_epsilon must be a positive finite number, got ${showValue(epsRaw)}`);
    }
    layerNormEpsilon = epsRaw;
  }

  return { nLayer, nHead, nEmbd, nInner, nCtx, vocabSize, layerNormEpsilon };
}

/** model_type "gpt2", or (without model_type) architectures naming a GPT-2 class. */
function checkArchitecture(
  json: Record<string, unknown>,
  bad: (problem: string) => GptLoadError,
  unsupported: (problem: string) => GptLoadError,
): void {
  const modelType = json["model_type"];
  const architectures = json["architectures"];
  let archList: string[] | null = null;
  if (architectures !== undefined && architectures !== null) {
    if (!Array.isArray(architectures) || !architectures.every((a): a is string => typeof a === "string")) {
      throw bad(`architectures must be a list of strings, got ${showValue(architectures)}`);
    }
    archList = architectures;
  }
  if (modelType !== undefined && modelType !== null) {
    if (typeof modelType !== "string") throw bad(`model_type must be a string, got ${showValue(modelType)}`);
    if (modelType !== "gpt2") {
      throw unsupported(`model_type "${modelType}" is not supported (only "gpt2")`);
    }
    return;
  }
  if (archList === null) {
    throw bad(
      `does not say what model it is: expected model_type "gpt2" or architectures containing ${SUPPORTED_ARCHITECTURES.map((a) => `"${a}"`).join(" or ")}`,
    );
  }
  if (!archList.some((a) => SUPPORTED_ARCHITECTURES.includes(a))) {
    throw unsupported(
      `architectures ${showValue(archList)} are not supported (expected ${SUPPORTED_ARCHITECTURES.map((a) => `"${a}"`).join(" or ")})`,
    );
  }
}
