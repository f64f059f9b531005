/**
 * Where a checkpoint keeps its chat template and the special tokens the template uses:
 * chat_template.jinja (what transformers saves today) or tokenizer_config.json's chat_template
 * (older checkpoints; a list of named templates takes the one named "default"), and
 * tokenizer_config.json's bos_token / eos_token; generation_config.json's eos_token_id lists
 * the tokens that end a turn.
 */
import { join } from "node:path";

import { isJsonObject, isRegularFile, readJsonFile, readTextFile } from "../checkpoint/fs-util.js";
import { GptLoadError } from "../errors.js";

/** What a checkpoint directory says about chat. */
export interface ChatFiles {
  /** The template and the file it came from, or null when there is none. */
  template: { source: string; file: string } | null;
  /** The files looked in for a template, for the error when there is none. */
  lookedIn: string[];
  /** Special token texts from tokenizer_config.json (null: not given). */
  bosToken: string | null;
  eosToken: string | null;
  /** generation_config.json's eos_token_id, as a list ([] when absent). */
  eosTokenIds: number[];
}

const MAX_CONFIG_BYTES = 16 << 20;

export async function readChatFiles(dir: string): Promise<ChatFiles> {
  const jinja = join(dir, "chat_template.jinja");
  const configFile = join(dir, "tokenizer_config.json");
  const config = (await isRegularFile(configFile)) ? await readJsonFile(configFile, MAX_CONFIG_BYTES) : null;
  const tokenizerConfig = isJsonObject(config) ? config : {};
  const files: ChatFiles = {
    template: null,
    lookedIn: [jinja, configFile],
    bosToken: tokenText(tokenizerConfig.bos_token),
    eosToken: tokenText(tokenizerConfig.eos_token),
    eosTokenIds: await generationEosIds(join(dir, "generation_config.json")),
  };
  if (await isRegularFile(jinja)) {
    files.template = { source: await readTextFile(jinja, "a Jinja template", "E_TOKENIZER"), file: jinja };
    return files;
  }
  const source = templateSource(tokenizerConfig.chat_template, configFile);
  if (source !== null) files.template = { source, file: configFile };
  return files;
}

/** tokenizer_config.json's chat_template: a string, or a list of { name, template }. */
function templateSource(value: unknown, file: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    const named = value.find((t: unknown) => isJsonObject(t) && t.name === "default");
    if (isJsonObject(named) && typeof named.template === "string") return named.template;
    throw new GptLoadError("E_TOKENIZER", file, 'chat_template is a list of templates without one named "default"');
  }
  throw new GptLoadError("E_TOKENIZER", file, "chat_template must be a string or a list of { name, template }");
}

/** A special token as tokenizer_config.json writes it: its text, or an AddedToken object's content. */
function tokenText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (isJsonObject(value) && typeof value.content === "string") return value.content;
  return null;
}

async function generationEosIds(file: string): Promise<number[]> {
  if (!(await isRegularFile(file))) return [];
  const config = await readJsonFile(file, MAX_CONFIG_BYTES);
  const ids = isJsonObject(config) ? config.eos_token_id : undefined;
  const list = Array.isArray(ids) ? ids : ids === undefined || ids === null ? [] : [ids];
  return list.filter((id): id is number => Number.isInteger(id) && (id as number) >= 0);
}
