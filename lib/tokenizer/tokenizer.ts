import { fileURLToPath } from "node:url";
import type { TokenizerFiles } from "../checkpoint/types.js";
import { GptInputError } from "../errors.js";
import { AddedTokenSplitter } from "./added-tokens.js";
import { mergeWord, type MergeTable } from "./bpe.js";
import { BYTE_TO_CHAR, bytesOfTokenString, charsOfBytes } from "./byte-unicode.js";
import { EOS_TOKEN, readTokenizerFiles, type TokenizerData } from "./files.js";
import { PairTable } from "./pair-table.js";
import { GPT2_SPLIT } from "./pretokenize.js";

/** Words longer than this (in UTF-16 units) are not kept in the word cache. */
const CACHE_WORD_MAX = 64;
/** The word cache is emptied when it reaches this many words. */
const CACHE_CAPACITY = 100_000;

/** The standard GPT-2 vocabulary shipped in assets/gpt2 (two levels above lib/tokenizer or dist/tokenizer). */
const STANDARD_DIR = new URL("../../assets/gpt2/", import.meta.url);
let standard: Promise<Tokenizer> | null = null;

/**
 * GPT-2's byte-level BPE tokenizer; gives the ids of Hugging Face's GPT2Tokenizer.
 *
 * Text is cut at added tokens ("<|endoftext|>" and any others tokenizer.json lists), the rest
 * is split by GPT-2's regex, each piece's UTF-8 bytes are mapped to byte characters and merged
 * by rank. A lone surrogate in the input (which cannot be UTF-8 encoded; Hugging Face refuses
 * such strings) is encoded as U+FFFD, so encode(s) equals encode(s.toWellFormed()).
 */
export class Tokenizer {
  /** Number of ids: the highest id + 1. */
  readonly vocabSize: number;
  /** The id of "<|endoftext|>" (50256 in the standard vocabulary). */
  readonly eosTokenId: number;

  private readonly vocab: Map<string, number>;
  private readonly table: MergeTable;
  private readonly byteIds: Int32Array;
  private readonly tokenOfId: Array<string | undefined>;
  private readonly bytesOfId: Array<Uint8Array | undefined>;
  private readonly splitter: AddedTokenSplitter;
  private readonly addPrefixSpace: boolean;
  private readonly ignoreMerges: boolean;
  private readonly words = new Map<string, readonly number[]>();
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

    this.byteIds = new Int32Array(256);
    for (let b = 0; b < 256; b++) this.byteIds[b] = data.vocab.get(BYTE_TO_CHAR[b]!)!;

    const count = data.merges.length / 3;
    const rankOf = new PairTable(count);
    const resultOf = new Int32Array(count);
    for (let rank = 0; rank < count; rank++) {
      // A pair listed twice keeps its later rank, as in tokenizers (its merge map is built in order).
      rankOf.set(data.merges[rank * 3]!, data.merges[rank * 3 + 1]!, rank);
      resultOf[rank] = data.merges[rank * 3 + 2]!;
    }
    this.table = { rankOf, resultOf };

    this.splitter = new AddedTokenSplitter(data.addedTokens);
    const eos = data.addedTokens.find((t) => t.content === EOS_TOKEN)?.id ?? data.vocab.get(EOS_TOKEN);
    this.eosTokenId = eos!; // files.ts guarantees one of the two
    this.addPrefixSpace = data.addPrefixSpace;
    this.ignoreMerges = data.ignoreMerges;
  }

  /**
   * Load a tokenizer from checkpoint files, or the standard GPT-2 vocabulary (assets/gpt2)
   * when `files` is null. Bad files throw GptLoadError with code E_TOKENIZER.
   */
  static async load(files: TokenizerFiles | null): Promise<Tokenizer> {
    if (files !== null) return new Tokenizer(await readTokenizerFiles(files));
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

  /** The ids of `text`. */
  encode(text: string): number[] {
    if (typeof text !== "string") throw new GptInputError(`encode() expects a string, got ${describeValue(text)}`);
    const out: number[] = [];
    for (const segment of this.splitter.split(text)) {
      if ("id" in segment) {
        out.push(segment.id);
        continue;
      }
      let plain = segment.text;
      if (this.addPrefixSpace && !plain.startsWith(" ")) plain = " " + plain;
      const pieces = plain.match(GPT2_SPLIT);
      if (pieces === null) continue;
      for (const piece of pieces) {
        const ids = this.encodePiece(piece);
        for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
      }
    }
    return out;
  }

  /** The text of `ids`; bytes that are not valid UTF-8 become U+FFFD (like errors="replace"). */
  decode(ids: ArrayLike<number>): string {
    return this.text.decode(this.decodeBytes(ids));
  }

  /** The raw bytes of `ids` (which need not be valid UTF-8). */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    if (ids === null || typeof ids !== "object" || typeof ids.length !== "number") {
      throw new GptInputError(`decode() expects an array of token ids, got ${describeValue(ids)}`);
    }
    const parts: Uint8Array[] = new Array<Uint8Array>(ids.length);
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const bytes = this.bytesOf(ids[i]!);
      parts[i] = bytes;
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

  private bytesOf(id: number): Uint8Array {
    const cached = Number.isInteger(id) ? this.bytesOfId[id] : undefined;
    if (cached !== undefined) return cached;
    const token = Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.tokenOfId[id] : undefined;
    if (token === undefined) {
      throw new GptInputError(
        `token id ${describeValue(id)} is not in the vocabulary (vocabulary size ${this.vocabSize}, ids 0–${this.vocabSize - 1})`,
      );
    }
    // As Hugging Face's ByteLevel decoder: a token that is not all byte characters stands for its UTF-8.
    const bytes = bytesOfTokenString(token) ?? this.utf8.encode(token);
    this.bytesOfId[id] = bytes;
    return bytes;
  }

  private encodePiece(piece: string): readonly number[] {
    const cached = this.words.get(piece);
    if (cached !== undefined) return cached;
    const bytes = this.utf8.encode(piece); // a lone surrogate becomes EF BF BD (U+FFFD)
    let ids: number[] | undefined;
    if (this.ignoreMerges) {
      const whole = this.vocab.get(charsOfBytes(bytes));
      if (whole !== undefined) ids = [whole];
    }
    if (ids === undefined) {
      ids = new Array<number>(bytes.length);
      for (let i = 0; i < bytes.length; i++) ids[i] = this.byteIds[bytes[i]!]!;
      ids = mergeWord(ids, this.table);
    }
    if (piece.length <= CACHE_WORD_MAX) {
      if (this.words.size >= CACHE_CAPACITY) this.words.clear();
      this.words.set(piece, ids);
    }
    return ids;
  }
}

function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 30 ? v.slice(0, 30) + "…" : v);
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}
