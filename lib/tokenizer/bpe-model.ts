/**
 * The BPE model: one pre-tokenized piece → ids, as tokenizers' BPE::merge_word. A piece is
 * either text whose UTF-8 bytes are the symbols (ByteLevel's conversion left to us, the
 * fast path) or a string of byte characters. Each symbol is the vocabulary id of its
 * character, with continuing_subword_prefix before every symbol but the first and
 * end_of_word_suffix after the last; a character the vocabulary lacks becomes its
 * byte_fallback tokens ("<0x0A>"), else unk_token (consecutive ones fused with fuse_unk),
 * else nothing. Then bpe.ts merges by rank. ignore_merges takes a piece that is itself in
 * the vocabulary whole.
 */
import { mergeWord, type MergeTable } from "./bpe.js";
import { BYTE_TO_CHAR, byteOfCharCode } from "./byte-unicode.js";
import { PairTable } from "./pair-table.js";

export interface BpeOptions {
  continuingSubwordPrefix: string | null;
  endOfWordSuffix: string | null;
  /** Only set when the token is in the vocabulary (HF fails on a missing one when it is needed). */
  unkToken: string | null;
  fuseUnk: boolean;
  byteFallback: boolean;
  ignoreMerges: boolean;
}

/** Pieces longer than this (in UTF-16 units) are not kept in the word cache. */
const CACHE_WORD_MAX = 64;
/** The word cache is emptied when it reaches this many words. */
const CACHE_CAPACITY = 100_000;

export class BpeModel {
  private readonly table: MergeTable;
  /** byteIds[b]: the id of byte b's character, -1 when the vocabulary has none. */
  private readonly byteIds: Int32Array;
  /** No prefix or suffix and every byte has its token: symbols are byteIds directly. */
  private readonly plain: boolean;
  private readonly unkId: number;
  private readonly words = new Map<string, readonly number[]>();
  private readonly utf8 = new TextEncoder();

  /** `merges`: rank-ordered (left, right, merged) id triples. */
  constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    merges: Int32Array,
    private readonly options: BpeOptions,
  ) {
    const count = merges.length / 3;
    const rankOf = new PairTable(count);
    const resultOf = new Int32Array(count);
    for (let rank = 0; rank < count; rank++) {
      // A pair listed twice keeps its later rank, as in tokenizers (its merge map is built in order).
      rankOf.set(merges[rank * 3]!, merges[rank * 3 + 1]!, rank);
      resultOf[rank] = merges[rank * 3 + 2]!;
    }
    this.table = { rankOf, resultOf };
    this.byteIds = new Int32Array(256);
    let allBytes = true;
    for (let b = 0; b < 256; b++) {
      const id = vocab.get(BYTE_TO_CHAR[b]!);
      this.byteIds[b] = id ?? -1;
      if (id === undefined) allBytes = false;
    }
    this.plain = allBytes && !options.continuingSubwordPrefix && !options.endOfWordSuffix;
    this.unkId = options.unkToken === null ? -1 : (vocab.get(options.unkToken) ?? -1);
  }

  /** The ids of `piece`, text whose UTF-8 bytes are the symbols (a lone surrogate is U+FFFD's bytes). */
  encodeText(piece: string): readonly number[] {
    const cached = this.words.get(piece);
    if (cached !== undefined) return cached;
    const bytes = this.utf8.encode(piece);
    let ids: number[] | null = null;
    if (this.plain && !this.options.ignoreMerges) {
      ids = new Array<number>(bytes.length);
      for (let i = 0; i < bytes.length; i++) ids[i] = this.byteIds[bytes[i]!]!;
      ids = mergeWord(ids, this.table);
    } else {
      let chars = "";
      for (let i = 0; i < bytes.length; i++) chars += BYTE_TO_CHAR[bytes[i]!]!;
      ids = this.encodeChars(chars);
    }
    this.remember(piece, ids);
    return ids;
  }

  /** The ids of `piece`, a string of (normally byte) characters. */
  encodeByteChars(piece: string): readonly number[] {
    const cached = this.words.get(piece);
    if (cached !== undefined) return cached;
    const ids = this.encodeChars(piece);
    this.remember(piece, ids);
    return ids;
  }

  private remember(piece: string, ids: readonly number[]): void {
    if (piece.length > CACHE_WORD_MAX) return;
    if (this.words.size >= CACHE_CAPACITY) this.words.clear();
    this.words.set(piece, ids);
  }

  private encodeChars(word: string): number[] {
    if (word.length === 0) return [];
    if (this.options.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) return [whole];
    }
    if (this.plain) {
      const ids: number[] = [];
      let simple = true;
      for (let i = 0; i < word.length; i++) {
        const b = byteOfCharCode(word.charCodeAt(i));
        if (b < 0) {
          simple = false;
          break;
        }
        ids.push(this.byteIds[b]!);
      }
      if (simple) return mergeWord(ids, this.table);
    }
    return mergeWord(this.symbols(word), this.table);
  }

  /** tokenizers' merge_word before merging: the symbol ids of `word`'s characters. */
  private symbols(word: string): number[] {
    const { continuingSubwordPrefix: prefix, endOfWordSuffix: suffix, byteFallback, fuseUnk } = this.options;
    const chars = Array.from(word);
    const out: number[] = [];
    let pendingUnk = false;
    chars.forEach((ch, i) => {
      let s = ch;
      if (i > 0 && prefix) s = prefix + s;
      if (i === chars.length - 1 && suffix) s = s + suffix;
      const id = this.vocab.get(s);
      if (id !== undefined) {
        if (pendingUnk) out.push(this.unkId);
        pendingUnk = false;
        out.push(id);
        return;
      }
      if (byteFallback) {
        const fallback: number[] = [];
        for (const b of this.utf8.encode(s)) {
          const t = this.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
          if (t === undefined) break;
          fallback.push(t);
        }
        if (fallback.length === this.utf8.encode(s).length) {
          out.push(...fallback);
          return;
        }
      }
      if (this.unkId >= 0) {
        if (pendingUnk && !fuseUnk) out.push(this.unkId);
        pendingUnk = true;
      }
    });
    if (pendingUnk) out.push(this.unkId);
    return out;
  }
}
