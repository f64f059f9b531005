/**
 * Reading and validating tokenizer files: Hugging Face's tokenizer.json (fast-tokenizer
 * format: any byte-level BPE pipeline, or SentencePiece-style BPE as Llama 2 / TinyLlama's,
 * which transformers' LlamaTokenizer rebuilds from the config as it does) or the classic vocab.json + merges.txt pair (read as
 * transformers' GPT2Tokenizer reads it), each with the tokenizer_config.json beside it.
 * Every problem is a GptLoadError with code E_TOKENIZER whose message starts with the file
 * at fault and names the field.
 */
import { dirname } from "node:path";
import { readTextFile } from "../checkpoint/fs-util.js";
import type { TokenizerFiles } from "../checkpoint/types.js";
import { GptInputError, GptLoadError } from "../errors.js";
import type { AddedToken } from "./added-tokens.js";
import type { BpeOptions } from "./bpe-model.js";
import { BYTE_TO_CHAR } from "./byte-unicode.js";
import { readTokenizerConfig, type TokenizerConfig } from "./config.js";
import { parseTokenDecoder } from "./decoders.js";
import { parseNormalizer, type Normalizer } from "./normalizers.js";
import { describe, isObject, optionalBool, quote, typeOf, type Fail } from "./parse-util.js";
import { NOTHING_AROUND, parsePostProcessor, type SpecialTokensAround } from "./post-processor.js";
import { parsePreTokenizer, type PreTokenizerPlan } from "./pre-tokenizers.js";

export const EOS_TOKEN = "<|endoftext|>";

/** Ids above this are refused (real vocabularies are far smaller; id tables stay bounded). */
const MAX_ID = 2 ** 24 - 1;

/** Everything a Tokenizer needs, checked: all merge tokens exist, every byte can be encoded. */
export interface TokenizerData {
  /** The file named in later messages (tokenizer.json, or vocab.json). */
  file: string;
  /** Model vocabulary: token string (byte-level characters) → id. */
  vocab: Map<string, number>;
  /** The inverse of `vocab` (ids without a token are holes). */
  tokenOfId: string[];
  /** Merges in rank order as id triples: left, right, merged token. */
  merges: Int32Array;
  /** Added tokens with their final ids (tokenizer.json's, the config's special tokens). */
  addedTokens: AddedToken[];
  normalizer: Normalizer | null;
  preTokenizer: PreTokenizerPlan;
  model: BpeOptions;
  /** What encode() puts around the text when special tokens are added. */
  around: SpecialTokensAround;
  eosTokenId: number;
  bosTokenId: number | null;
  /**
   * SentencePiece-style BPE (no ByteLevel anywhere; the vocabulary holds the text itself,
   * "▁" for spaces, "<0x0A>" byte tokens): the decoder chain over token strings. Null for byte-level.
   */
  decodeTokens: ((tokens: string[]) => string) | null;
}

export interface ReadOptions {
  /** Where to look for tokenizer_config.json: default the tokenizer files' folder; null: nowhere. */
  configDir?: string | null;
}

function failer(file: string): Fail {
  return (problem) => {
    throw new GptLoadError("E_TOKENIZER", file, problem);
  };
}

async function readText(file: string): Promise<string> {
  return readTextFile(file, "a tokenizer file", "E_TOKENIZER");
}

async function readJson(file: string): Promise<unknown> {
  const text = await readText(file);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new GptLoadError("E_TOKENIZER", file, `is not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

function checkId(fail: Fail, where: string, id: unknown): number {
  if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
    fail(`${where} must be a non-negative integer id, found ${describe(id)}`);
  }
  if (id > MAX_ID) fail(`${where} is ${id}; ids above ${MAX_ID} are not supported`);
  return id;
}

/** A vocabulary object {token: id}; ids must be distinct. */
function parseVocab(fail: Fail, where: string, value: unknown): { vocab: Map<string, number>; tokenOfId: string[] } {
  if (!isObject(value)) fail(`${where} must be an object mapping token strings to ids, found ${describe(value)}`);
  const vocab = new Map<string, number>();
  const tokenOfId: string[] = [];
  for (const token of Object.keys(value)) {
    const rawId = value[token];
    const id =
      typeof rawId === "number" && Number.isInteger(rawId) && rawId >= 0 && rawId <= MAX_ID
        ? rawId
        : checkId(fail, `${where}: the id of token ${quote(token)}`, rawId);
    const other = tokenOfId[id];
    if (other !== undefined) fail(`${where}: id ${id} is given to both ${quote(other)} and ${quote(token)}`);
    tokenOfId[id] = token;
    vocab.set(token, id);
  }
  if (vocab.size === 0) fail(`${where} is empty`);
  return { vocab, tokenOfId };
}

/**
 * Every byte must become some symbol: its character (with the prefix inside a word and the
 * suffix at its end) is in the vocabulary, unless unk_token or byte_fallback covers a gap.
 * Without that, Hugging Face silently drops the byte; we refuse such a file.
 */
function checkByteCoverage(fail: Fail, where: string, vocab: Map<string, number>, model: BpeOptions): void {
  if (model.byteFallback || model.unkToken !== null) return;
  const prefix = model.continuingSubwordPrefix ?? "";
  const suffix = model.endOfWordSuffix ?? "";
  for (let b = 0; b < 256; b++) {
    const ch = BYTE_TO_CHAR[b]!;
    const hexByte = `0x${b.toString(16).padStart(2, "0")}`;
    const forms: Array<[string, string]> = [[ch, ""]];
    if (prefix) forms.push([prefix + ch, `model.continuing_subword_prefix is ${quote(prefix)}, but `]);
    if (suffix) forms.push([ch + suffix, `model.end_of_word_suffix is ${quote(suffix)}, but `]);
    if (prefix && suffix) forms.push([prefix + ch + suffix, `model.continuing_subword_prefix and end_of_word_suffix are set, but `]);
    for (const [token, lead] of forms) {
      if (vocab.has(token)) continue;
      if (lead === "") {
        fail(`${where} has no token ${quote(ch)} for byte ${hexByte}; a GPT-2 byte-level vocabulary has one for each of the 256 bytes`);
      }
      fail(`${lead}${where} has no token ${quote(token)} for byte ${hexByte}, and there is no unk_token or byte_fallback`);
    }
  }
}

/** UTF-8 byte slicing, as tokenizers strips the prefix off a merge's right token. */
function dropPrefix(token: string, prefix: string): string {
  if (prefix === "") return token;
  if (/^[\u0000-\u007f]*$/.test(prefix)) return token.slice(prefix.length);
  const bytes = new TextEncoder().encode(token);
  return new TextDecoder().decode(bytes.subarray(new TextEncoder().encode(prefix).length));
}

/**
 * Merges in rank order → id triples, every token checked. `lefts[i]` + `rights[i]` is merge i
 * (the right one without continuing_subword_prefix); `whereOf(i)` names its place.
 */
function resolveMerges(
  fail: Fail,
  vocab: Map<string, number>,
  lefts: readonly string[],
  rights: readonly string[],
  prefix: string,
  whereOf: (i: number) => string,
): Int32Array {
  const out = new Int32Array(lefts.length * 3);
  for (let i = 0; i < lefts.length; i++) {
    const left = lefts[i]!;
    const right = rights[i]!;
    const a = vocab.get(left);
    const b = vocab.get(right);
    const mergedToken = left + dropPrefix(right, prefix);
    const merged = vocab.get(mergedToken);
    if (a === undefined || b === undefined || merged === undefined) {
      const what =
        a === undefined || b === undefined ? `uses ${quote(a === undefined ? left : right)}` : `makes ${quote(mergedToken)}`;
      fail(`${whereOf(i)}: merge ${quote(left)} + ${quote(right)} ${what}, which is not in the vocabulary`);
    }
    out[i * 3] = a;
    out[i * 3 + 1] = b;
    out[i * 3 + 2] = merged;
  }
  return out;
}

/** One merge line "left right" (exactly one space; tokens are non-empty). */
function splitMerge(fail: Fail, where: string, line: string): [string, string] {
  const parts = line.split(" ");
  if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
    fail(`${where}: expected two tokens separated by one space, found ${quote(line)}`);
  }
  return [parts[0]!, parts[1]!];
}

// ---- added tokens ----

type TokenProps = Omit<AddedToken, "id">;

const sameProps = (a: TokenProps, b: TokenProps): boolean =>
  a.content === b.content &&
  a.special === b.special &&
  a.lstrip === b.lstrip &&
  a.rstrip === b.rstrip &&
  a.singleWord === b.singleWord &&
  a.normalized === b.normalized;

/**
 * tokenizers' AddedVocabulary::add_tokens: a token already added is updated in place, one in
 * the model vocabulary takes its id, any other the next free id (the model vocabulary's size,
 * or one past the highest added id). The ids written in tokenizer.json are not used.
 */
function addTokens(added: AddedToken[], tokens: readonly TokenProps[], vocab: Map<string, number>): void {
  const maxAdded = added.reduce((m, t) => Math.max(m, t.id), -1);
  let nextId = maxAdded < 0 ? vocab.size : maxAdded >= vocab.size || vocab.size === 0 ? maxAdded + 1 : vocab.size;
  for (const token of tokens) {
    if (token.content === "") continue;
    const at = added.findIndex((t) => t.content === token.content);
    if (at >= 0) {
      if (!sameProps(added[at]!, token)) added[at] = { ...token, id: added[at]!.id };
      continue;
    }
    const id = vocab.get(token.content) ?? nextId++;
    added.push({ ...token, id });
  }
}

function parseAddedTokens(fail: Fail, value: unknown): TokenProps[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(`added_tokens must be an array, found ${describe(value)}`);
  return value.map((entry: unknown, i): TokenProps => {
    const where = `added_tokens[${i}]`;
    if (!isObject(entry)) fail(`${where} must be an object, found ${describe(entry)}`);
    checkId(fail, `${where}.id`, entry.id);
    if (typeof entry.content !== "string" || entry.content === "") {
      fail(`${where}.content must be a non-empty string, found ${describe(entry.content)}`);
    }
    const special = optionalBool(fail, `${where}.special`, entry.special, false);
    return {
      content: entry.content,
      special,
      lstrip: optionalBool(fail, `${where}.lstrip`, entry.lstrip, false),
      rstrip: optionalBool(fail, `${where}.rstrip`, entry.rstrip, false),
      singleWord: optionalBool(fail, `${where}.single_word`, entry.single_word, false),
      normalized: optionalBool(fail, `${where}.normalized`, entry.normalized, !special),
    };
  });
}

const endOfText = (): TokenProps => ({
  content: EOS_TOKEN,
  special: true,
  lstrip: false,
  rstrip: false,
  singleWord: false,
  normalized: false,
});

/**
 * transformers' GPT2Tokenizer: unk, bos and eos default to "<|endoftext|>", which it then
 * registers as a special token (even when tokenizer.json does not list it). We add it only
 * when the vocabulary has it (transformers would give it a new id).
 */
function gpt2Defaults(config: TokenizerConfig | null): TokenProps[] {
  const missing = config === null || ["unk_token", "bos_token", "eos_token"].some((k) => !config.given.has(k));
  return missing ? [endOfText()] : [];
}

/** The id of a token's text: an added token's, else the model vocabulary's. */
function idOf(added: readonly AddedToken[], vocab: Map<string, number>, content: string): number | undefined {
  return added.find((t) => t.content === content)?.id ?? vocab.get(content);
}

/**
 * The config's part: its special tokens added or updated, its bos / eos, and when it says
 * add_bos_token / add_eos_token, the ids added around the text (transformers then replaces
 * the post-processor with one adding just those).
 */
function applyConfig(
  config: TokenizerConfig | null,
  added: AddedToken[],
  vocab: Map<string, number>,
  around: SpecialTokensAround,
  fail: Fail,
  defaultTokens: readonly TokenProps[],
  sentencePiece = false,
): { around: SpecialTokensAround; eosTokenId: number; bosTokenId: number | null } {
  if (config !== null) addTokens(added, config.tokens, vocab);
  addTokens(
    added,
    defaultTokens.filter((t) => vocab.has(t.content) || added.some((a) => a.content === t.content)),
    vocab,
  );
  const bosToken = config?.bosToken ?? null;
  const eosToken = config?.eosToken ?? null;
  const bosTokenId = bosToken === null ? null : (idOf(added, vocab, bosToken) ?? null);
  let result = around;
  if (config?.addBosEos) {
    const prefix: number[] = [];
    const suffix: number[] = [];
    if (config.addBosEos.bos && bosTokenId !== null) prefix.push(bosTokenId);
    const eosId = eosToken === null ? undefined : idOf(added, vocab, eosToken);
    if (config.addBosEos.eos && eosId !== undefined) suffix.push(eosId);
    result = { prefix, suffix };
  }
  let eosTokenId: number | undefined;
  if (eosToken !== null) eosTokenId = idOf(added, vocab, eosToken);
  // Llama-style files end text with "</s>"; GPT-2-style ones with "<|endoftext|>".
  eosTokenId ??= sentencePiece
    ? (idOf(added, vocab, "</s>") ?? idOf(added, vocab, EOS_TOKEN))
    : (idOf(added, vocab, EOS_TOKEN) ?? idOf(added, vocab, "</s>"));
  if (eosTokenId === undefined) {
    fail(`has no ${EOS_TOKEN} token in model.vocab or added_tokens (nor "</s>"), and no tokenizer_config.json eos_token names one`);
  }
  return { around: result, eosTokenId, bosTokenId: bosTokenId ?? result.prefix[0] ?? null };
}

// ---- vocab.json + merges.txt ----

async function readVocabMerges(vocabFile: string, mergesFile: string, config: TokenizerConfig | null): Promise<TokenizerData> {
  const [vocabJson, mergesText] = await Promise.all([readJson(vocabFile), readText(mergesFile)]);
  const failVocab: Fail = failer(vocabFile);
  const failMerges: Fail = failer(mergesFile);
  const { vocab, tokenOfId } = parseVocab(failVocab, "the vocabulary", vocabJson);
  const model: BpeOptions = {
    continuingSubwordPrefix: null,
    endOfWordSuffix: null,
    unkToken: null,
    fuseUnk: false,
    byteFallback: false,
    ignoreMerges: false,
  };
  checkByteCoverage(failVocab, "the vocabulary", vocab, model);
  const lines = mergesText.split("\n");
  const lefts: string[] = [];
  const rights: string[] = [];
  const lineOf: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line === "" || (i === 0 && line.startsWith("#version"))) continue;
    const space = line.indexOf(" ");
    if (space <= 0 || space === line.length - 1 || line.indexOf(" ", space + 1) >= 0) {
      failMerges(`line ${i + 1}: expected two tokens separated by one space, found ${quote(line)}`);
    }
    lefts.push(line.slice(0, space));
    rights.push(line.slice(space + 1));
    lineOf.push(i + 1);
  }
  if (lefts.length === 0 && vocab.size > 257) {
    failMerges(`has no merges, but the vocabulary has ${vocab.size} tokens; the file looks empty or cut short`);
  }
  const merges = resolveMerges(failMerges, vocab, lefts, rights, "", (i) => `line ${lineOf[i]}`);

  // GPT2Tokenizer: unk, bos and eos default to "<|endoftext|>"; without a config, it (or "</s>") must exist.
  if (config === null && !vocab.has(EOS_TOKEN) && !vocab.has("</s>")) failVocab(`the vocabulary has no ${EOS_TOKEN} token (nor "</s>")`);
  const added: AddedToken[] = [];
  const { around, eosTokenId, bosTokenId } = applyConfig(config, added, vocab, NOTHING_AROUND, failVocab, gpt2Defaults(config));
  return {
    file: vocabFile,
    vocab,
    tokenOfId,
    merges,
    addedTokens: added,
    normalizer: null,
    preTokenizer: parsePreTokenizer(failVocab, "pre_tokenizer", {
      type: "ByteLevel",
      add_prefix_space: config?.addPrefixSpace ?? false,
      use_regex: true,
    }),
    model,
    around,
    eosTokenId,
    bosTokenId: bosTokenId ?? (config?.bosToken == null ? eosTokenId : null),
    decodeTokens: null,
  };
}

// ---- tokenizer.json ----

function parseModelOptions(fail: Fail, model: Record<string, unknown>): BpeOptions {
  const dropout = model.dropout;
  if (dropout !== undefined && dropout !== null && dropout !== 0) {
    if (typeof dropout === "number") fail(`model.dropout is ${dropout}; BPE dropout (random merges) is not supported, only null`);
    fail(`model.dropout must be null or a number, found ${describe(dropout)}`);
  }
  const optionalString = (key: string): string | null => {
    const v = model[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== "string") fail(`model.${key} must be a string or null, found ${describe(v)}`);
    return v === "" ? null : v;
  };
  return {
    continuingSubwordPrefix: optionalString("continuing_subword_prefix"),
    endOfWordSuffix: optionalString("end_of_word_suffix"),
    unkToken: optionalString("unk_token"),
    fuseUnk: optionalBool(fail, "model.fuse_unk", model.fuse_unk, false),
    byteFallback: optionalBool(fail, "model.byte_fallback", model.byte_fallback, false),
    ignoreMerges: optionalBool(fail, "model.ignore_merges", model.ignore_merges, false),
  };
}

function checkDecoder(fail: Fail, decoder: unknown): void {
  // No decoder decodes as ByteLevel here (Hugging Face would join the raw tokens with spaces).
  if (decoder === undefined || decoder === null) return;
  if (isObject(decoder) && decoder.type === "ByteLevel") return;
  if (isObject(decoder) && decoder.type === "Sequence" && Array.isArray(decoder.decoders)) {
    const list: unknown[] = decoder.decoders;
    if (list.length > 0 && list.every((d) => isObject(d) && d.type === "ByteLevel")) return;
    const other = list.find((d) => !(isObject(d) && d.type === "ByteLevel"));
    fail(`decoder is a Sequence holding ${typeOf(other)}; only the ByteLevel decoder is supported`);
  }
  fail(`decoder is ${typeOf(decoder)}; only the ByteLevel decoder is supported`);
}

async function readTokenizerJson(file: string, config: TokenizerConfig | null): Promise<TokenizerData> {
  const json = await readJson(file);
  const fail: Fail = failer(file);
  if (!isObject(json)) fail(`must be a JSON object, found ${describe(json)}`);
  const model = json.model;
  if (!isObject(model)) fail(`has no "model" object (found ${describe(model)})`);
  if (model.type !== "BPE") {
    fail(`model.type is ${describe(model.type)}; only "BPE" (byte-level BPE) is supported`);
  }
  let options = parseModelOptions(fail, model);
  let normalizer = parseNormalizer(fail, "normalizer", json.normalizer);
  let preTokenizer = parsePreTokenizer(fail, "pre_tokenizer", json.pre_tokenizer);
  let decoder = json.decoder;
  const llamaClass = /^LlamaTokenizer(Fast)?$/.test(config?.tokenizerClass ?? "") && !preTokenizer.byteLevel && !normalizer?.byteLevel;
  if (llamaClass) {
    // transformers 5's LlamaTokenizer keeps the vocabulary, merges and added tokens but builds
    // its own pipeline: no normalizer, Metaspace(prepend_scheme from add_prefix_space and
    // legacy, split: false), BPE with fuse_unk and byte_fallback, Replace/ByteFallback/Fuse(/Strip).
    const addPrefixSpace = config!.addPrefixSpace ?? true;
    const scheme = !addPrefixSpace ? "never" : config!.legacy === true ? "always" : "first";
    options = { ...options, fuseUnk: true, byteFallback: true, ignoreMerges: false };
    normalizer = null;
    preTokenizer = parsePreTokenizer(fail, "pre_tokenizer", { type: "Metaspace", replacement: "\u2581", prepend_scheme: scheme, split: false });
    decoder = {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "\u2581" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        ...(addPrefixSpace ? [{ type: "Strip", content: " ", start: 1, stop: 0 }] : []),
      ],
    };
  }
  const byteLevelDecoder =
    decoder === undefined || decoder === null || (isObject(decoder) && decoder.type === "ByteLevel") ||
    (isObject(decoder) && decoder.type === "Sequence" && Array.isArray(decoder.decoders) && decoder.decoders.some((d: unknown) => isObject(d) && d.type === "ByteLevel"));
  // SentencePiece-style BPE (Llama 2, TinyLlama): no ByteLevel step, a Metaspace / Replace+ByteFallback decoder.
  const sentencePiece = !preTokenizer.byteLevel && !normalizer?.byteLevel && !byteLevelDecoder;
  if (!preTokenizer.byteLevel && !normalizer?.byteLevel && !sentencePiece) {
    const pre = json.pre_tokenizer;
    const kind = pre === undefined || pre === null ? "missing" : typeOf(pre);
    fail(`pre_tokenizer is ${kind}, with no ByteLevel step (nor a ByteLevel normalizer); only byte-level BPE is supported`);
  }
  if (preTokenizer.steps.length === 1 && isObject(json.pre_tokenizer) && json.pre_tokenizer.type === "ByteLevel" && json.pre_tokenizer.use_regex === false) {
    fail("pre_tokenizer is ByteLevel without GPT-2's split regex (use_regex: false) and nothing else splits the text, which is not supported");
  }
  const decodeTokens = sentencePiece ? parseTokenDecoder(fail, "decoder", decoder) : null;
  if (!sentencePiece) checkDecoder(fail, decoder);
  const postAround = parsePostProcessor(fail, "post_processor", json.post_processor);

  const { vocab, tokenOfId } = parseVocab(fail, "model.vocab", model.vocab);
  const unk = options.unkToken;
  const usable: BpeOptions = { ...options, unkToken: unk !== null && vocab.has(unk) ? unk : null };
  // A SentencePiece-style vocabulary holds characters, not bytes; HF drops one it lacks (no unk, no fallback).
  if (!sentencePiece) checkByteCoverage(fail, "model.vocab", vocab, usable);
  if (!Array.isArray(model.merges)) fail(`model.merges must be an array, found ${describe(model.merges)}`);
  const lefts: string[] = [];
  const rights: string[] = [];
  model.merges.forEach((m: unknown, i) => {
    let pair: readonly [string, string] | null = null;
    if (typeof m === "string") pair = splitMerge(fail, `model.merges[${i}]`, m);
    else if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") pair = [m[0], m[1]];
    if (pair === null) fail(`model.merges[${i}] must be "left right" or ["left", "right"], found ${describe(m)}`);
    lefts.push(pair[0]);
    rights.push(pair[1]);
  });
  if (lefts.length === 0 && vocab.size > 257) {
    fail(`model.merges is empty, but model.vocab has ${vocab.size} tokens`);
  }
  const merges = resolveMerges(fail, vocab, lefts, rights, options.continuingSubwordPrefix ?? "", (i) => `model.merges[${i}]`);

  const added: AddedToken[] = [];
  addTokens(added, parseAddedTokens(fail, json.added_tokens), vocab);
  // Without a config we read the file as GPT2Tokenizer would (GPT-2's own layout).
  const gpt2 = !sentencePiece && (config === null || /^GPT2Tokenizer(Fast)?$/.test(config.tokenizerClass ?? ""));
  // transformers 5.18's LlamaTokenizer keeps tokenizer.json's post-processor whatever add_bos_token / add_eos_token say.
  const effectiveConfig = llamaClass && config !== null ? { ...config, addBosEos: undefined } : config;
  const { around, eosTokenId, bosTokenId } = applyConfig(effectiveConfig, added, vocab, postAround, fail, gpt2 ? gpt2Defaults(config) : [], sentencePiece);
  return {
    file,
    vocab,
    tokenOfId,
    merges,
    addedTokens: added,
    normalizer: normalizer?.normalize ?? null,
    preTokenizer,
    model: usable,
    around,
    eosTokenId,
    bosTokenId,
    decodeTokens,
  };
}

/** Read and check one tokenizer layout (and the tokenizer_config.json beside it). */
export async function readTokenizerFiles(files: TokenizerFiles, options: ReadOptions = {}): Promise<TokenizerData> {
  switch (files.kind) {
    case "tokenizer.json": {
      const dir = options.configDir === undefined ? dirname(files.path) : options.configDir;
      const config = dir === null ? null : await readTokenizerConfig(dir);
      return readTokenizerJson(files.path, config);
    }
    case "vocab+merges": {
      const dir = options.configDir === undefined ? dirname(files.vocab) : options.configDir;
      const config = dir === null ? null : await readTokenizerConfig(dir);
      return readVocabMerges(files.vocab, files.merges, config);
    }
    default:
      throw new GptInputError(
        `tokenizer files must be {kind: "tokenizer.json", path} or {kind: "vocab+merges", vocab, merges}, ` +
          `found kind ${JSON.stringify((files as { kind?: unknown }).kind)}`,
      );
  }
}
