import { fileURLToPath } from "node:url";
import type { TokenizerFiles } from "../checkpoint/types.js";
import { GptInputError } from "../errors.js";
import { AddedTokenSplitter, type AddedToken } from "./added-tokens.js";
import { BpeModel } from "./bpe-model.js";
import { bytesOfTokenString } from "./byte-unicode.js";
import { readTokenizerFiles, type ReadOptions, type TokenizerData } from "./files.js";
import { toByteChars, type Normalizer } from "./normalizers.js";
import type { SpecialTokensAround } from "./post-processor.js";
import type { PreTokenizerPlan } from "./pre-tokenizers.js";
import { GPT2_SPLIT } from "./pretokenize.js";

/** The standard GPT-2 vocabulary shipped in assets/gpt2 (two levels above lib/tokenizer or dist/tokenizer). */
const STANDARD_DIR = new URL("../../assets/gpt2/", import.meta.url);
let standard: Promise<Tokenizer> | null = null;

export interface EncodeOptions {
  /**
   * Add the special tokens the tokenizer puts around a text (its post-processor's, or
   * tokenizer_config.json's add_bos_token / add_eos_token), as Hugging Face's
   * add_special_tokens. Default true. GPT-2 adds none; OPT adds "</s>" in front.
   */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave out special tokens (skip_special_tokens). Default false: they are decoded as their text. */
  skipSpecialTokens?: boolean;
}

/**
 * A BPE tokenizer giving the ids of Hugging Face's tokenizers / transformers: byte-level
 * ones (GPT-2's, and any tokenizer.json of the same kind: OPT, BLOOM, GPT-Neo…) and
 * SentencePiece-style ones (Llama 2, TinyLlama: "▁" for spaces by a Prepend/Replace
 * normalizer or a Metaspace pre-tokenizer, "<0xXX>" byte_fallback tokens, decoded by
 * Replace/ByteFallback/Fuse/Strip or Metaspace; see decoders.ts).
 *
 * encode(): the text is cut at added tokens ("<|endoftext|>", "</s>"…, raw text first,
 * then the normalized-form ones after the normalizer has run on each piece), each piece is
 * normalized, pre-tokenized (GPT-2's regex, a Split pattern, …), turned into byte characters
 * and merged by rank; the post-processor's special tokens go around the result. A lone
 * surrogate in the input (which cannot be UTF-8 encoded; Hugging Face refuses such strings)
 * is encoded as U+FFFD, so encode(s) equals encode(s.toWellFormed()).
 */
export class Tokenizer {
  /** Number of ids: the highest id + 1. */
  readonly vocabSize: number;
  /** The end-of-text id: tokenizer_config.json's eos_token, else "<|endoftext|>" (50256 in GPT-2), else "</s>". */
  readonly eosTokenId: number;
  /** tokenizer_config.json's bos_token (GPT-2: "<|endoftext|>"), or the id encode() puts first; null if neither. */
  readonly bosTokenId: number | null;
  /** The ids encode() puts before and after the text unless told { addSpecialTokens: false }. */
  readonly addedSpecialTokens: SpecialTokensAround;

  private readonly vocab: ReadonlyMap<string, number>;
  private readonly bpe: BpeModel;
  private readonly tokenOfId: Array<string | undefined>;
  private readonly bytesOfId: Array<Uint8Array | undefined>;
  private readonly added: ReadonlyMap<string, number>;
  private readonly specialIds: ReadonlySet<number>;
  /** Added tokens matched in the raw text, and those matched after normalization. */
  private readonly rawSplitter: AddedTokenSplitter;
  private readonly normalizedSplitter: AddedTokenSplitter | null;
  private readonly normalizer: Normalizer | null;
  private readonly pre: PreTokenizerPlan;
  /** SentencePiece-style (non-byte-level) pipelines: the decoder chain; null for byte-level. */
  private readonly decodeTokens: ((tokens: string[]) => string) | null;
  /** The ids decode() leaves out with skipSpecialTokens. */
  private readonly skippedIds: ReadonlySet<number>;
  private readonly utf8 = new TextEncoder();
  private readonly text = new TextDecoder("utf-8", { ignoreBOM: true });

  private constructor(data: TokenizerData) {
    this.vocab = data.vocab;
    let maxId = data.tokenOfId.length - 1;
    for (const t of data.addedTokens) if (t.id > maxId) maxId = t.id;
    this.vocabSize = maxId + 1;

    this.tokenOfId = data.tokenOfId.slice();
    for (const t of data.addedTokens) this.tokenOfId[t.id] = t.content;
    this.bytesOfId = new Array<Uint8Array | undefined>(this.vocabSize);
    this.added = new Map(data.addedTokens.map((t) => [t.content, t.id]));
    this.specialIds = new Set(data.addedTokens.filter((t) => t.special).map((t) => t.id));

    this.bpe = new BpeModel(data.vocab, data.merges, data.model);
    this.normalizer = data.normalizer;
    const byForm = (normalized: boolean): AddedToken[] => data.addedTokens.filter((t) => t.normalized === normalized);
    this.rawSplitter = new AddedTokenSplitter(byForm(false));
    const normalizedTokens = byForm(true);
    const normalize = data.normalizer ?? ((s: string) => s);
    this.normalizedSplitter = normalizedTokens.length === 0 ? null : new AddedTokenSplitter(normalizedTokens, (t) => normalize(t.content));
    this.pre = data.preTokenizer;
    this.decodeTokens = data.decodeTokens;
    this.skippedIds = this.specialIds;
    if (data.decodeTokens !== null && data.normalizer !== null) {
      // As tokenizers 0.23: an added token matched in the normalized text decodes as its
      // normalized content ("<s>" with Prepend("▁") is "▁<s>"), which skip_special_tokens
      // then does not recognise as special.
      const skipped = new Set(this.specialIds);
      for (const t of data.addedTokens) {
        if (!t.normalized) continue;
        const n = data.normalizer(t.content);
        if (n === t.content) continue;
        this.tokenOfId[t.id] = n;
        skipped.delete(t.id);
      }
      this.skippedIds = skipped;
    }
    this.eosTokenId = data.eosTokenId;
    this.bosTokenId = data.bosTokenId;
    this.addedSpecialTokens = { prefix: [...data.around.prefix], suffix: [...data.around.suffix] };
  }

  /**
   * Load a tokenizer from checkpoint files (with the tokenizer_config.json beside them, if
   * any), or the standard GPT-2 vocabulary (assets/gpt2) when `files` is null. Bad files
   * throw GptLoadError with code E_TOKENIZER.
   */
  static async load(files: TokenizerFiles | null, options?: ReadOptions): Promise<Tokenizer> {
    if (files !== null) return new Tokenizer(await readTokenizerFiles(files, options));
    standard ??= readTokenizerFiles({
      kind: "vocab+merges",
      vocab: fileURLToPath(new URL("vocab.json", STANDARD_DIR)),
      merges: fileURLToPath(new URL("merges.txt", STANDARD_DIR)),
    }).then(
      (data) => new Tokenizer(data),
      (err: unknown) => {
        standard = null;
        throw err;
      },
    );
    return standard;
  }

  /** The ids of `text`, with the special tokens Hugging Face adds by default (see EncodeOptions). */
  encode(text: string, options?: EncodeOptions): number[] {
    if (typeof text !== "string") throw new GptInputError(`encode() expects a string, got ${describeValue(text)}`);
    const addSpecial = flag(options, "addSpecialTokens", true, "encode");
    const out: number[] = addSpecial ? [...this.addedSpecialTokens.prefix] : [];
    // Characters, not bytes, reach a SentencePiece-style model: a lone surrogate is U+FFFD there too.
    if (this.decodeTokens !== null) text = wellFormed(text);
    let atStart = true; // the next piece begins the original text (Metaspace's prepend_scheme "first")
    for (const segment of this.rawSplitter.split(text)) {
      if ("id" in segment) {
        out.push(segment.id);
        atStart = false;
        continue;
      }
      const normalized = this.normalizer === null ? segment.text : this.normalizer(segment.text);
      if (this.normalizedSplitter === null) {
        this.encodePlain(normalized, out, atStart);
        atStart = false;
        continue;
      }
      for (const inner of this.normalizedSplitter.split(normalized)) {
        if ("id" in inner) out.push(inner.id);
        else this.encodePlain(inner.text, out, atStart);
        atStart = false;
      }
    }
    if (addSpecial) out.push(...this.addedSpecialTokens.suffix);
    return out;
  }

  /** Pre-tokenize and merge text that holds no added token; append its ids to `out`. */
  private encodePlain(text: string, out: number[], atStart: boolean): void {
    if (text.length === 0) return;
    const gpt2 = this.pre.gpt2;
    if (gpt2 !== null) {
      const plain = gpt2.addPrefixSpace && !text.startsWith(" ") ? " " + text : text;
      const pieces = plain.match(GPT2_SPLIT);
      if (pieces === null) return;
      for (const piece of pieces) {
        const ids = this.bpe.encodeText(piece);
        for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
      }
      return;
    }
    let pieces = [text];
    for (const step of this.pre.steps) pieces = step(pieces, atStart);
    for (const piece of pieces) {
      const ids = this.pre.bytesDeferred ? this.bpe.encodeText(piece) : this.bpe.encodeByteChars(piece);
      for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
    }
  }

  /**
   * The text of `ids`, as Hugging Face decodes it (ByteLevel: the tokens' bytes, then UTF-8
   * with U+FFFD for invalid bytes, like errors="replace"). Special tokens are kept unless
   * { skipSpecialTokens: true }.
   */
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string {
    if (this.decodeTokens === null) return this.text.decode(this.decodeBytes(ids, options));
    checkIds(ids);
    const skip = flag(options, "skipSpecialTokens", false, "decode");
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      this.bytesOf(id); // an unknown id throws even when skipped
      if (skip && this.skippedIds.has(id)) continue;
      tokens.push(this.tokenOfId[id]!);
    }
    return this.decodeTokens(tokens);
  }

  /** Whether decode() runs a SentencePiece-style decoder chain (see StreamDecoder). */
  get sentencePiece(): boolean {
    return this.decodeTokens !== null;
  }

  /** Whether `id` is a "<0xXX>" byte token of a SentencePiece-style vocabulary. */
  isByteToken(id: number): boolean {
    if (this.decodeTokens === null) return false;
    const t = Number.isInteger(id) && id >= 0 ? this.tokenOfId[id] : undefined;
    return t !== undefined && !this.added.has(t) && BYTE_TOKEN.test(t);
  }

  /** The raw bytes of `ids` (which need not be valid UTF-8). */
  decodeBytes(ids: ArrayLike<number>, options?: DecodeOptions): Uint8Array {
    checkIds(ids);
    const skip = flag(options, "skipSpecialTokens", false, "decode");
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const bytes = this.bytesOf(id); // first, so that an unknown id throws even when skipped
      if (skip && this.skippedIds.has(id)) continue;
      parts.push(bytes);
      total += bytes.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const bytes of parts) {
      out.set(bytes, at);
      at += bytes.length;
    }
    return out;
  }

  /** The text of one token (a token holding part of a UTF-8 character shows U+FFFD). */
  tokenText(id: number): string {
    return this.text.decode(this.bytesOf(id));
  }

  /** The UTF-8 bytes one token stands for (a token can hold part of a character); a copy. */
  tokenBytes(id: number): Uint8Array {
    return this.bytesOf(id).slice();
  }

  /**
   * The id of a token given as its text ("</s>", "<|endoftext|>"): an added token's, else
   * the vocabulary entry for the text's byte characters; null when there is no such single
   * token. Unlike encode(), never splits and adds nothing.
   */
  tokenToId(token: string): number | null {
    if (typeof token !== "string") throw new GptInputError(`tokenToId() expects a string, got ${describeValue(token)}`);
    const added = this.added.get(token);
    if (added !== undefined) return added;
    return this.vocab.get(this.decodeTokens === null ? toByteChars(token) : token) ?? null;
  }

  /** Whether `id` is a special token (skipped by decode with skipSpecialTokens). */
  isSpecialToken(id: number): boolean {
    return this.specialIds.has(id);
  }

  private bytesOf(id: number): Uint8Array {
    const cached = Number.isInteger(id) ? this.bytesOfId[id] : undefined;
    if (cached !== undefined) return cached;
    const token = Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.tokenOfId[id] : undefined;
    if (token === undefined) {
      throw new GptInputError(
        `token id ${describeValue(id)} is not in the vocabulary (vocabulary size ${this.vocabSize}, ids 0–${this.vocabSize - 1})`,
      );
    }
    let bytes: Uint8Array;
    if (this.decodeTokens !== null) {
      // SentencePiece-style: "<0xXX>" is its byte, "▁" a space, anything else its UTF-8.
      const m = this.added.has(token) ? null : BYTE_TOKEN.exec(token);
      bytes = m !== null ? Uint8Array.of(Number.parseInt(m[1]!, 16)) : this.utf8.encode(token.replaceAll("\u2581", " "));
    } else {
      // As Hugging Face's ByteLevel decoder: a token that is not all byte characters stands for its UTF-8.
      bytes = bytesOfTokenString(token) ?? this.utf8.encode(token);
    }
    this.bytesOfId[id] = bytes;
    return bytes;
  }
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

function checkIds(ids: ArrayLike<number>): void {
  if (ids === null || typeof ids !== "object" || typeof ids.length !== "number") {
    throw new GptInputError(`decode() expects an array of token ids, got ${describeValue(ids)}`);
  }
}

/** `text` with each lone surrogate as U+FFFD (String.prototype.toWellFormed). */
function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}

function flag(options: unknown, name: string, fallback: boolean, method: string): boolean {
  if (options === undefined) return fallback;
  if (options === null || typeof options !== "object") {
    throw new GptInputError(`${method}() options must be an object, got ${describeValue(options)}`);
  }
  const v = (options as Record<string, unknown>)[name];
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw new GptInputError(`${method}() option ${name} must be true or false, got ${describeValue(v)}`);
  return v;
}

function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 30 ? v.slice(0, 30) + "…" : v);
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}
