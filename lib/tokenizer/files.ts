/**
 * Reading and validating tokenizer files: Hugging Face's tokenizer.json (fast-tokenizer
 * format) or the classic vocab.json + merges.txt pair. Every problem is a GptLoadError with
 * code E_TOKENIZER whose message starts with the file at fault.
 */
import { readFile } from "node:fs/promises";
import type { TokenizerFiles } from "../checkpoint/types.js";
import { GptInputError, GptLoadError } from "../errors.js";
import type { AddedToken } from "./added-tokens.js";
import { BYTE_TO_CHAR } from "./byte-unicode.js";

export const EOS_TOKEN = "<|endoftext|>";

/** Ids above this are refused (real vocabularies are far smaller; id tables stay bounded). */
const MAX_ID = 2 ** 24 - 1;

/** Everything a Tokenizer needs, checked: all merge tokens exist, every byte has a token. */
export interface TokenizerData {
  /** The file named in later messages (tokenizer.json, or vocab.json). */
  file: string;
  /** Model vocabulary: token string (byte-level characters) → id. */
  vocab: Map<string, number>;
  /** The inverse of `vocab` (ids without a token are holes). */
  tokenOfId: string[];
  /** Merges in rank order as id triples: left, right, merged token. */
  merges: Int32Array;
  /** Added tokens (from tokenizer.json's added_tokens, or "<|endoftext|>" for vocab+merges). */
  addedTokens: AddedToken[];
  /** ByteLevel add_prefix_space: a space goes before each text segment not starting with one. */
  addPrefixSpace: boolean;
  /** BPE ignore_merges: a word that is itself in the vocabulary is taken whole. */
  ignoreMerges: boolean;
}

function fail(file: string, problem: string, cause?: unknown): never {
  throw new GptLoadError("E_TOKENIZER", file, problem, cause === undefined ? undefined : { cause });
}

async function readText(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    fail(file, code === "ENOENT" ? "file not found" : `cannot be read (${(err as Error).message})`, err);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

async function readJson(file: string): Promise<unknown> {
  const text = await readText(file);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    fail(file, `is not valid JSON (${(err as Error).message})`, err);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  return typeof v === "object" ? "an object" : `${typeof v} ${String(v)}`;
}

function quote(token: string): string {
  return JSON.stringify(token);
}

function checkId(file: string, where: string, id: unknown): number {
  if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
    fail(file, `${where} must be a non-negative integer id, found ${describe(id)}`);
  }
  if (id > MAX_ID) fail(file, `${where} is ${id}; ids above ${MAX_ID} are not supported`);
  return id;
}

/** A vocabulary object {token: id}; ids must be distinct and every byte must have its token. */
function parseVocab(file: string, where: string, value: unknown): { vocab: Map<string, number>; tokenOfId: string[] } {
  if (!isObject(value)) fail(file, `${where} must be an object mapping token strings to ids, found ${describe(value)}`);
  const vocab = new Map<string, number>();
  const tokenOfId: string[] = [];
  for (const token of Object.keys(value)) {
    const rawId = value[token];
    const id =
      typeof rawId === "number" && Number.isInteger(rawId) && rawId >= 0 && rawId <= MAX_ID
        ? rawId
        : checkId(file, `${where}: the id of token ${quote(token)}`, rawId);
    const other = tokenOfId[id];
    if (other !== undefined) fail(file, `${where}: id ${id} is given to both ${quote(other)} and ${quote(token)}`);
    tokenOfId[id] = token;
    vocab.set(token, id);
  }
  if (vocab.size === 0) fail(file, `${where} is empty`);
  for (let b = 0; b < 256; b++) {
    const ch = BYTE_TO_CHAR[b]!;
    if (!vocab.has(ch)) {
      fail(
        file,
        `${where} has no token ${quote(ch)} for byte 0x${b.toString(16).padStart(2, "0")}; ` +
          "a GPT-2 byte-level vocabulary has one for each of the 256 bytes",
      );
    }
  }
  return { vocab, tokenOfId };
}

/**
 * Merges in rank order → id triples, every token checked. `lefts[i]` + `rights[i]` is merge i;
 * `whereOf(i)` names its place in the file for messages.
 */
function resolveMerges(
  file: string,
  vocab: Map<string, number>,
  lefts: readonly string[],
  rights: readonly string[],
  whereOf: (i: number) => string,
): Int32Array {
  const out = new Int32Array(lefts.length * 3);
  for (let i = 0; i < lefts.length; i++) {
    const left = lefts[i]!;
    const right = rights[i]!;
    const a = vocab.get(left);
    const b = vocab.get(right);
    const merged = vocab.get(left + right);
    if (a === undefined || b === undefined || merged === undefined) {
      const what =
        a === undefined || b === undefined
          ? `uses ${quote(a === undefined ? left : right)}`
          : `makes ${quote(left + right)}`;
      fail(file, `${whereOf(i)}: merge ${quote(left)} + ${quote(right)} ${what}, which is not in the vocabulary`);
    }
    out[i * 3] = a;
    out[i * 3 + 1] = b;
    out[i * 3 + 2] = merged;
  }
  return out;
}

/** One merge line "left right" (exactly one space; tokens are non-empty). */
function splitMerge(file: string, where: string, line: string): [string, string] {
  const parts = line.split(" ");
  if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
    fail(file, `${where}: expected two tokens separated by one space, found ${quote(line)}`);
  }
  return [parts[0]!, parts[1]!];
}

function eosAddedToken(file: string, vocab: Map<string, number>): AddedToken {
  const id = vocab.get(EOS_TOKEN);
  if (id === undefined) fail(file, `the vocabulary has no ${EOS_TOKEN} token`);
  return { id, content: EOS_TOKEN, special: true, lstrip: false, rstrip: false, singleWord: false };
}

async function readVocabMerges(vocabFile: string, mergesFile: string): Promise<TokenizerData> {
  const [vocabJson, mergesText] = await Promise.all([readJson(vocabFile), readText(mergesFile)]);
  const { vocab, tokenOfId } = parseVocab(vocabFile, "the vocabulary", vocabJson);
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
      fail(mergesFile, `line ${i + 1}: expected two tokens separated by one space, found ${quote(line)}`);
    }
    lefts.push(line.slice(0, space));
    rights.push(line.slice(space + 1));
    lineOf.push(i + 1);
  }
  if (lefts.length === 0 && vocab.size > 257) {
    fail(mergesFile, `has no merges, but the vocabulary has ${vocab.size} tokens; the file looks empty or cut short`);
  }
  const merges = resolveMerges(mergesFile, vocab, lefts, rights, (i) => `line ${lineOf[i]}`);
  return {
    file: vocabFile,
    vocab,
    tokenOfId,
    merges,
    addedTokens: [eosAddedToken(vocabFile, vocab)],
    addPrefixSpace: false,
    ignoreMerges: false,
  };
}

function optionalBool(file: string, where: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") fail(file, `${where} must be true or false, found ${describe(v)}`);
  return v;
}

/** The ByteLevel pre-tokenizer's add_prefix_space; anything else is not GPT-2's layout. */
function byteLevelPrefixSpace(file: string, pre: unknown): boolean {
  let byteLevel: unknown = pre;
  if (isObject(pre) && pre.type === "Sequence" && Array.isArray(pre.pretokenizers) && pre.pretokenizers.length === 1) {
    byteLevel = pre.pretokenizers[0];
  }
  if (!isObject(byteLevel) || byteLevel.type !== "ByteLevel") {
    const kind = isObject(pre) && typeof pre.type === "string" ? pre.type : describe(pre);
    fail(file, `pre_tokenizer is ${kind}; only GPT-2's ByteLevel pre-tokenizer is supported`);
  }
  if (byteLevel.use_regex === false) {
    fail(file, "pre_tokenizer is ByteLevel without GPT-2's split regex (use_regex: false), which is not supported");
  }
  return optionalBool(file, "pre_tokenizer.add_prefix_space", byteLevel.add_prefix_space, false);
}

function parseAddedTokens(file: string, value: unknown): AddedToken[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(file, `added_tokens must be an array, found ${describe(value)}`);
  return value.map((entry: unknown, i): AddedToken => {
    const where = `added_tokens[${i}]`;
    if (!isObject(entry)) fail(file, `${where} must be an object, found ${describe(entry)}`);
    const id = checkId(file, `${where}.id`, entry.id);
    if (typeof entry.content !== "string" || entry.content === "") {
      fail(file, `${where}.content must be a non-empty string, found ${describe(entry.content)}`);
    }
    return {
      id,
      content: entry.content,
      special: optionalBool(file, `${where}.special`, entry.special, false),
      lstrip: optionalBool(file, `${where}.lstrip`, entry.lstrip, false),
      rstrip: optionalBool(file, `${where}.rstrip`, entry.rstrip, false),
      singleWord: optionalBool(file, `${where}.single_word`, entry.single_word, false),
    };
  });
}

async function readTokenizerJson(file: string): Promise<TokenizerData> {
  const json = await readJson(file);
  if (!isObject(json)) fail(file, `must be a JSON object, found ${describe(json)}`);
  const model = json.model;
  if (!isObject(model)) fail(file, `has no "model" object (found ${describe(model)})`);
  if (model.type !== "BPE") {
    fail(file, `model.type is ${describe(model.type)}; only "BPE" (GPT-2 byte-level BPE) is supported`);
  }
  for (const key of ["continuing_subword_prefix", "end_of_word_suffix"] as const) {
    const v = model[key];
    if (v !== undefined && v !== null && v !== "") {
      fail(file, `model.${key} is ${describe(v)}; GPT-2 byte-level BPE has none`);
    }
  }
  if (json.normalizer !== undefined && json.normalizer !== null) {
    const kind = isObject(json.normalizer) ? String(json.normalizer.type) : describe(json.normalizer);
    fail(file, `has a normalizer (${kind}); GPT-2's tokenizer has none and normalizers are not supported`);
  }
  const addPrefixSpace = byteLevelPrefixSpace(file, json.pre_tokenizer);
  const decoder = json.decoder;
  if (decoder !== undefined && decoder !== null && !(isObject(decoder) && decoder.type === "ByteLevel")) {
    const kind = isObject(decoder) ? String(decoder.type) : describe(decoder);
    fail(file, `decoder is ${kind}; only the ByteLevel decoder is supported`);
  }

  const { vocab, tokenOfId } = parseVocab(file, "model.vocab", model.vocab);
  if (!Array.isArray(model.merges)) fail(file, `model.merges must be an array, found ${describe(model.merges)}`);
  const lefts: string[] = [];
  const rights: string[] = [];
  model.merges.forEach((m: unknown, i) => {
    let pair: readonly [string, string] | null = null;
    if (typeof m === "string") pair = splitMerge(file, `model.merges[${i}]`, m);
    else if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") pair = [m[0], m[1]];
    if (pair === null) fail(file, `model.merges[${i}] must be "left right" or ["left", "right"], found ${describe(m)}`);
    lefts.push(pair[0]);
    rights.push(pair[1]);
  });
  if (lefts.length === 0 && vocab.size > 257) {
    fail(file, `model.merges is empty, but model.vocab has ${vocab.size} tokens`);
  }
  const merges = resolveMerges(file, vocab, lefts, rights, (i) => `model.merges[${i}]`);

  const addedTokens = parseAddedTokens(file, json.added_tokens);
  if (!addedTokens.some((t) => t.content === EOS_TOKEN)) {
    // transformers' GPT2Tokenizer registers "<|endoftext|>" (its unk, bos and eos token) as a
    // special token even when tokenizer.json does not list it among added_tokens.
    if (!vocab.has(EOS_TOKEN)) fail(file, `has no ${EOS_TOKEN} token in model.vocab or added_tokens`);
    addedTokens.push(eosAddedToken(file, vocab));
  }
  return {
    file,
    vocab,
    tokenOfId,
    merges,
    addedTokens,
    addPrefixSpace,
    ignoreMerges: optionalBool(file, "model.ignore_merges", model.ignore_merges, false),
  };
}

/** Read and check one tokenizer layout. */
export function readTokenizerFiles(files: TokenizerFiles): Promise<TokenizerData> {
  switch (files.kind) {
    case "tokenizer.json":
      return readTokenizerJson(files.path);
    case "vocab+merges":
      return readVocabMerges(files.vocab, files.merges);
    default:
      throw new GptInputError(
        `tokenizer files must be {kind: "tokenizer.json", path} or {kind: "vocab+merges", vocab, merges}, ` +
          `found kind ${JSON.stringify((files as { kind?: unknown }).kind)}`,
      );
  }
}
