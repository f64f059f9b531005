// The architectures the engine runs, and the one a config.json names (model_type, or without it
// a transformers class in `architectures`): an unknown one is E_UNSUPPORTED naming the supported.
import { showValue } from "../checkpoint/fs-util.js";
import type { Architecture } from "./architecture.js";
import { BLOOM } from "./bloom.js";
import { ConfigFields } from "./config-fields.js";
import { GPT_NEO } from "./gpt-neo.js";
import { GPT_NEOX } from "./gpt-neox.js";
import { GPT2 } from "./gpt2.js";
import { GPTJ } from "./gptj.js";
import { LLAMA, QWEN2 } from "./llama.js";
import { OPT } from "./opt.js";

export type { Architecture, EngineTensorPlan, SourcePlan } from "./architecture.js";
export { ConfigFields } from "./config-fields.js";
export { expectedTensorShapes, gpt2Config } from "./gpt2.js";

export const ARCHITECTURES: readonly Architecture[] = [GPT2, OPT, BLOOM, GPT_NEO, GPTJ, GPT_NEOX, LLAMA, QWEN2];

export const SUPPORTED_MODEL_TYPES: readonly string[] = ARCHITECTURES.map((a) => a.modelType);

const quoted = (names: readonly string[]) => names.map((n) => `"${n}"`).join(", ");

export function architectureOf(f: ConfigFields): Architecture {
  const modelType = f.json["model_type"];
  const architectures = f.json["architectures"];
  let classes: string[] | null = null;
  if (architectures !== undefined && architectures !== null) {
    if (!Array.isArray(architectures) || !architectures.every((a): a is string => typeof a === "string"))
      throw f.bad(`architectures must be a list of strings, got ${showValue(architectures)}`);
    classes = architectures;
  }
  if (modelType !== undefined && modelType !== null) {
    if (typeof modelType !== "string") throw f.bad(`model_type must be a string, got ${showValue(modelType)}`);
    const arch = ARCHITECTURES.find((a) => a.modelType === modelType);
    if (!arch) throw f.unsupported(`model_type "${modelType}" is not supported (supported: ${quoted(SUPPORTED_MODEL_TYPES)})`);
    return arch;
  }
  const known = ARCHITECTURES.flatMap((a) => a.architectures);
  if (classes === null)
    throw f.bad(`does not say what model it is: expected model_type (one of ${quoted(SUPPORTED_MODEL_TYPES)}) or architectures naming one of ${quoted(known)}`);
  const arch = ARCHITECTURES.find((a) => classes.some((c) => a.architectures.includes(c)));
  if (!arch) throw f.unsupported(`architectures ${showValue(classes)} are not supported (supported: ${quoted(known)})`);
  return arch;
}
