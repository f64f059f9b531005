/**
 * Added tokens (such as "<|endoftext|>") are cut out of the text before pre-tokenization and
 * become one id each, whatever surrounds them, as Hugging Face does for every added token:
 * the leftmost match wins, the longest on ties; `lstrip` / `rstrip` swallow the white space
 * before / after; a `single_word` token only counts when no word character touches it. The
 * search goes on from the end of the match itself, not of the white space rstrip took.
 *
 * Tokens with `normalized: false` are matched in the raw text, then each piece between them
 * is normalized and the `normalized: true` ones are matched in that (their content
 * normalized too): two AddedTokenSplitters, as tokenizers' extract_and_normalize.
 */
import { UNICODE_17_CLASS } from "./unicode-pin.js";

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
  /** Matched in the normalized text (true) or the raw text (false). */
  normalized: boolean;
}

/** A slice of the text: plain text to pre-tokenize, or one added token's id. */
export type Segment = { text: string } | { id: number };

/** Rust regex's \w (Unicode 16 tables, like the rest of tokenizers 0.23). */
const WORD_CHAR = new RegExp(`[[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]--${UNICODE_17_CLASS}]`, "v");
const WHITE_SPACE = /\p{White_Space}/u;

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

function charBefore(text: string, at: number): string {
  if (at <= 0) return "";
  const code = text.charCodeAt(at - 1);
  if (at >= 2 && code >= 0xdc00 && code <= 0xdfff) {
    const hi = text.charCodeAt(at - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return text.slice(at - 2, at);
  }
  return text[at - 1]!;
}

function charAfter(text: string, at: number): string {
  const cp = text.codePointAt(at);
  return cp === undefined ? "" : String.fromCodePoint(cp);
}

export class AddedTokenSplitter {
  private readonly byContent: Map<string, AddedToken>;
  private readonly pattern: RegExp | null;

  /** `contentOf`: the text to look for (the content, or its normalized form). */
  constructor(tokens: readonly AddedToken[], contentOf: (t: AddedToken) => string = (t) => t.content) {
    this.byContent = new Map(tokens.map((t) => [contentOf(t), t] as const).filter(([c]) => c.length > 0));
    const contents = [...this.byContent.keys()].sort((a, b) => b.length - a.length);
    this.pattern = contents.length > 0 ? new RegExp(contents.map(escapeRegex).join("|"), "gu") : null;
  }

  /** Cut `text` into plain-text segments and added-token ids (empty text segments left out). */
  split(text: string): Segment[] {
    const pattern = this.pattern;
    if (pattern === null || text.length === 0) return text.length > 0 ? [{ text }] : [];
    const out: Segment[] = [];
    let plainFrom = 0;
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
      const token = this.byContent.get(m[0])!;
      let start = m.index;
      let end = start + m[0].length;
      if (token.singleWord) {
        const before = charBefore(text, start);
        const after = charAfter(text, end);
        if ((before !== "" && WORD_CHAR.test(before)) || (after !== "" && WORD_CHAR.test(after))) continue;
      }
      if (token.lstrip) {
        while (start > plainFrom) {
          const c = charBefore(text, start);
          if (!WHITE_SPACE.test(c)) break;
          start -= c.length;
        }
      }
      if (token.rstrip) {
        while (end < text.length) {
          const c = charAfter(text, end);
          if (!WHITE_SPACE.test(c)) break;
          end += c.length;
        }
      }
      if (start > plainFrom) out.push({ text: text.slice(plainFrom, start) });
      out.push({ id: token.id });
      plainFrom = end;
    }
    if (plainFrom < text.length) out.push({ text: text.slice(plainFrom) });
    return out;
  }
}
