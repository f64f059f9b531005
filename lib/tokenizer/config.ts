/**
 * tokenizer_config.json beside the tokenizer files, read as transformers 5 reads it for these
 * families: the named special tokens (bos_token, eos_token, unk_token, sep_token, pad_token,
 * cls_token, mask_token, then extra/additional_special_tokens), added_tokens_decoder, and
 * add_bos_token / add_eos_token (when either is given, transformers replaces the
 * post-processor by one that adds just those). special_tokens_map.json fills in the named
 * tokens when tokenizer_config.json has no added_tokens_decoder (transformers' legacy path).
 */
import { join } from "node:path";
import { readTextFile, statOrNull } from "../checkpoint/fs-util.js";

import { GptLoadError } from "../errors.js";
import type { AddedToken } from "./added-tokens.js";
import { describe, isObject, type Fail } from "./parse-util.js";

/** An added token as the config gives it (its id comes from the vocabulary or is new). */
export type ConfigToken = Omit<AddedToken, "id">;

export interface TokenizerConfig {
  file: string;
  /** Tokens to add or update, in the order transformers adds them. */
  tokens: ConfigToken[];
  bosToken: string | null;
  eosToken: string | null;
  /** add_bos_token / add_eos_token, or undefined when neither is in the file. */
  addBosEos: { bos: boolean; eos: boolean } | undefined;
  /** add_prefix_space (GPT2Tokenizer builds its ByteLevel pre-tokenizer with it), if given. */
  addPrefixSpace: boolean | undefined;
  /** The named special tokens the file (or special_tokens_map.json) gives, e.g. "eos_token". */
  given: ReadonlySet<string>;
  tokenizerClass: string | null;
  /** legacy (transformers' LlamaTokenizer: Metaspace prepend_scheme "always" instead of "first"), if given. */
  legacy: boolean | undefined;
}

const NAMED = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] as const;

async function readJsonIfPresent(file: string): Promise<unknown> {
  if ((await statOrNull(file).catch(() => undefined)) === null) return undefined;
  const text = await readTextFile(file, "a JSON file", "E_TOKENIZER");
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new GptLoadError("E_TOKENIZER", file, `is not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

function bool(v: unknown, fallback: boolean): boolean {
  return typeof v === "boolean" ? v : fallback;
}

/**
 * A token as the config writes it: a string (special, not normalized) or an AddedToken
 * object (normalized defaults to not special, as AddedToken's does). `special`: a named
 * special token is made special whatever the object says.
 */
function configToken(fail: Fail, where: string, v: unknown, special: boolean): ConfigToken | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") {
    return v === "" ? null : { content: v, special: true, lstrip: false, rstrip: false, singleWord: false, normalized: false };
  }
  if (!isObject(v) || typeof v.content !== "string") fail(`${where} must be a string or an AddedToken object, found ${describe(v)}`);
  if (v.content === "") return null;
  const isSpecial = special || bool(v.special, false);
  return {
    content: v.content,
    special: isSpecial,
    lstrip: bool(v.lstrip, false),
    rstrip: bool(v.rstrip, false),
    singleWord: bool(v.single_word, false),
    normalized: bool(v.normalized, !bool(v.special, false)),
  };
}

/** tokenizer_config.json in `dir`, or null when there is none. */
export async function readTokenizerConfig(dir: string): Promise<TokenizerConfig | null> {
  const file = join(dir, "tokenizer_config.json");
  const json = await readJsonIfPresent(file);
  if (json === undefined) return null;
  const fail: Fail = (problem) => {
    throw new GptLoadError("E_TOKENIZER", file, problem);
  };
  if (!isObject(json)) fail(`must be a JSON object, found ${describe(json)}`);
  const config: Record<string, unknown> = { ...json };

  const tokens: ConfigToken[] = [];
  const decoder = config.added_tokens_decoder;
  const byContent = new Map<string, ConfigToken>();
  if (decoder !== undefined && decoder !== null) {
    if (!isObject(decoder)) fail(`added_tokens_decoder must be an object, found ${describe(decoder)}`);
    const entries = Object.entries(decoder).sort(([a], [b]) => Number(a) - Number(b));
    for (const [id, v] of entries) {
      const token = configToken(fail, `added_tokens_decoder[${JSON.stringify(id)}]`, v, false);
      if (token === null) continue;
      tokens.push(token);
      byContent.set(token.content, token);
    }
  } else {
    const map = await readJsonIfPresent(join(dir, "special_tokens_map.json"));
    if (isObject(map)) for (const [key, v] of Object.entries(map)) if (!(key in config) || !config[key]) config[key] = v;
  }

  const named = new Map<string, ConfigToken>();
  for (const key of NAMED) {
    const v = config[key];
    // A named token written as a string takes its properties from added_tokens_decoder.
    const fromDecoder = typeof v === "string" ? byContent.get(v) : undefined;
    const token = fromDecoder ? { ...fromDecoder, special: true } : configToken(fail, key, v, true);
    if (token !== null) {
      named.set(key, token);
      tokens.push(token);
    }
  }
  const extra = config.extra_special_tokens ?? config.additional_special_tokens;
  const extraList = Array.isArray(extra) ? extra : isObject(extra) ? Object.values(extra) : [];
  extraList.forEach((v: unknown, i) => {
    const fromDecoder = typeof v === "string" ? byContent.get(v) : undefined;
    const token = fromDecoder ? { ...fromDecoder, special: true } : configToken(fail, `extra_special_tokens[${i}]`, v, true);
    if (token !== null) tokens.push(token);
  });

  const hasBosEos = "add_bos_token" in config || "add_eos_token" in config;
  return {
    file,
    tokens,
    bosToken: named.get("bos_token")?.content ?? null,
    eosToken: named.get("eos_token")?.content ?? null,
    addBosEos: hasBosEos ? { bos: bool(config.add_bos_token, false), eos: bool(config.add_eos_token, false) } : undefined,
    addPrefixSpace: typeof config.add_prefix_space === "boolean" ? config.add_prefix_space : undefined,
    given: new Set(named.keys()),
    tokenizerClass: typeof config.tokenizer_class === "string" ? config.tokenizer_class : null,
    legacy: typeof config.legacy === "boolean" ? config.legacy : undefined,
  };
}
