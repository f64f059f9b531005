/**
 * tokenizer.json normalizers, each a string → string function applied to every piece of text
 * between added tokens, as Hugging Face applies them:
 *
 * - NFC / NFD / NFKC / NFKD: String.prototype.normalize, except that code points HF's older
 *   normalization tables do not know (NORMALIZATION_BARRIERS) are kept as they are and
 *   normalization runs on the text between them, which is what HF does with them.
 * - Lowercase: each code point on its own (Rust's char::to_lowercase), so a final Σ is σ,
 *   not JavaScript's context-sensitive ς.
 * - Strip (White_Space at either end), Replace (a literal or Oniguruma pattern, every
 *   match), Prepend (unless the piece is empty), Sequence, ByteLevel (text → byte characters).
 */
import { BYTE_TO_CHAR } from "./byte-unicode.js";
import { describe, isObject, optionalBool, requireString, typeOf, type Fail } from "./parse-util.js";
import { parsePattern, regexSpans } from "./split.js";
import { NORMALIZATION_BARRIERS, rangesClass } from "./unicode-pin.js";

export type Normalizer = (text: string) => string;

export interface ParsedNormalizer {
  normalize: Normalizer;
  /** A ByteLevel normalizer is in it: its output is byte characters. */
  byteLevel: boolean;
}

const SUPPORTED = "NFC, NFD, NFKC, NFKD, Lowercase, Strip, Replace, Prepend, ByteLevel and Sequence";

const BARRIER = new RegExp(rangesClass(NORMALIZATION_BARRIERS), "v");
const BARRIERS = new RegExp(rangesClass(NORMALIZATION_BARRIERS), "gv");

function unicodeNormalize(form: "NFC" | "NFD" | "NFKC" | "NFKD"): Normalizer {
  return (text) => {
    if (!BARRIER.test(text)) return text.normalize(form);
    let out = "";
    let from = 0;
    for (const m of text.matchAll(BARRIERS)) {
      out += text.slice(from, m.index).normalize(form) + m[0];
      from = m.index + m[0].length;
    }
    return out + text.slice(from).normalize(form);
  };
}

const ASCII_ONLY = /^[\u0000-\u007f]*$/;

function lowercase(text: string): string {
  if (ASCII_ONLY.test(text)) return text.toLowerCase();
  let out = "";
  for (const ch of text) out += ch.toLowerCase(); // one code point at a time: no final-sigma rule
  return out;
}

const LEADING_SPACE = /^\p{White_Space}+/u;
const TRAILING_SPACE = /\p{White_Space}+$/u;

/** The text as byte-level characters (each UTF-8 byte of it as GPT-2's character for the byte). */
const UTF8 = new TextEncoder();

export function toByteChars(text: string): string {
  const bytes = UTF8.encode(text);
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]!]!;
  return s;
}

/** The normalizer described by `value` (tokenizer.json's "normalizer"), or null for none. */
export function parseNormalizer(fail: Fail, where: string, value: unknown): ParsedNormalizer | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) fail(`${where} must be an object, found ${describe(value)}`);
  const type = value.type;
  switch (type) {
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
      return { normalize: unicodeNormalize(type), byteLevel: false };
    case "Lowercase":
      return { normalize: lowercase, byteLevel: false };
    case "Strip": {
      const left = optionalBool(fail, `${where}.strip_left`, value.strip_left, false);
      const right = optionalBool(fail, `${where}.strip_right`, value.strip_right, false);
      return {
        normalize: (text) => {
          let s = text;
          if (left) s = s.replace(LEADING_SPACE, "");
          if (right) s = s.replace(TRAILING_SPACE, "");
          return s;
        },
        byteLevel: false,
      };
    }
    case "Replace": {
      const re = parsePattern(fail, `${where}.pattern`, value.pattern);
      const content = requireString(fail, `${where}.content`, value.content);
      return {
        normalize: (text) => {
          let out = "";
          for (const [s, e, isMatch] of regexSpans(re, text)) out += isMatch ? content : text.slice(s, e);
          return out;
        },
        byteLevel: false,
      };
    }
    case "Prepend": {
      const prepend = requireString(fail, `${where}.prepend`, value.prepend);
      return { normalize: (text) => (text.length > 0 ? prepend + text : text), byteLevel: false };
    }
    case "ByteLevel":
      return { normalize: toByteChars, byteLevel: true };
    case "Sequence": {
      const list = value.normalizers;
      if (!Array.isArray(list)) fail(`${where}.normalizers must be an array, found ${describe(list)}`);
      const parts = list.map((n: unknown, i) => parseNormalizer(fail, `${where}.normalizers[${i}]`, n));
      const fns = parts.filter((p): p is ParsedNormalizer => p !== null).map((p) => p.normalize);
      return {
        normalize: (text) => {
          let s = text;
          for (const fn of fns) s = fn(s);
          return s;
        },
        byteLevel: parts.some((p) => p?.byteLevel === true),
      };
    }
    default:
      return fail(`${where}.type is ${JSON.stringify(typeOf(value))}; the normalizers supported are ${SUPPORTED}`);
  }
}
