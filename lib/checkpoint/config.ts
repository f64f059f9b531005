/** Parse and validate a Hugging Face config.json with the architecture description it names (lib/arch/). */
import { architectureOf, ConfigFields, type Architecture } from "../arch/index.js";
import { GptLoadError } from "../errors.js";
import { isJsonObject, readJsonFile, showValue } from "./fs-util.js";
import type { ModelConfig } from "./types.js";

export { SUPPORTED_MODEL_TYPES } from "../arch/index.js";

/** config.json is a few hundred bytes; refuse anything absurdly large before reading it. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

export interface ReadConfig {
  architecture: Architecture;
  config: ModelConfig;
  /** config.json's fields, for what the tensor layout depends on. */
  fields: ConfigFields;
}

/** Read `file` (a config.json) and validate it; every failure is a GptLoadError naming `file`. */
export async function readConfig(file: string): Promise<ReadConfig> {
  return parseConfig(await readJsonFile(file, MAX_CONFIG_BYTES), file);
}

/** Validate the parsed contents of config.json. `file` is only used in error messages. */
export function parseConfig(json: unknown, file: string): ReadConfig {
  if (!isJsonObject(json)) {
    throw new GptLoadError("E_CHECKPOINT", file, `expected a JSON object, got ${Array.isArray(json) ? "an array" : showValue(json)}`);
  }
  const fields = new ConfigFields(json, file);
  const architecture = architectureOf(fields);
  return { architecture, config: architecture.parseConfig(fields), fields };
}
