/**
 * tokenizer.json decoders for SentencePiece-style BPE (Llama 2 / TinyLlama): token strings →
 * text, as Hugging Face's decode_chain does, step by step over the list of token strings:
 *
 * - Replace: every match of a literal or Oniguruma pattern in each token.
 * - ByteFallback: runs of "<0xXX>" tokens become their bytes' UTF-8 text; a run that is not
 *   valid UTF-8 becomes one U+FFFD per byte (HF's rule, unlike TextDecoder's).
 * - Fuse: all tokens joined into one.
 * - Strip: up to `start` leading and `stop` trailing `content` characters off each token.
 * - Metaspace: the replacement character becomes a space, and in the first token (unless
 *   prepend_scheme is "never") every replacement character is dropped, as HF does.
 * - Sequence of these. The result is the tokens joined.
 */
import { describe, isObject, requireString, typeOf, type Fail } from "./parse-util.js";
import { parsePattern, regexSpans } from "./split.js";

export type TokenDecoderStep = (tokens: string[]) => string[];

const SUPPORTED = "Replace, ByteFallback, Fuse, Strip, Metaspace and Sequence (or ByteLevel alone)";
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function byteFallback(tokens: string[]): string[] {
  const out: string[] = [];
  let bytes: number[] = [];
  const flush = (): void => {
    if (bytes.length === 0) return;
    try {
      out.push(STRICT_UTF8.decode(Uint8Array.from(bytes)));
    } catch {
      out.push("\ufffd".repeat(bytes.length));
    }
    bytes = [];
  };
  for (const t of tokens) {
    const m = t.length === 6 ? BYTE_TOKEN.exec(t) : null;
    if (m !== null) {
      bytes.push(Number.parseInt(m[1]!, 16));
      continue;
    }
    flush();
    out.push(t);
  }
  flush();
  return out;
}

function nonNegativeInt(fail: Fail, where: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) fail(`${where} must be a non-negative integer, found ${describe(v)}`);
  return v;
}

function singleChar(fail: Fail, where: string, v: unknown): string {
  const s = requireString(fail, where, v);
  if (Array.from(s).length !== 1) fail(`${where} must be one character, found ${describe(v)}`);
  return s;
}

/** Metaspace's prepend_scheme (or the older add_prefix_space), as tokenizers reads it. */
export function prependScheme(fail: Fail, where: string, value: Record<string, unknown>): "first" | "always" | "never" {
  const scheme = value.prepend_scheme;
  if (scheme === undefined || scheme === null) {
    const add = value.add_prefix_space;
    if (add === undefined || add === null) return "always";
    if (typeof add !== "boolean") fail(`${where}.add_prefix_space must be true or false, found ${describe(add)}`);
    return add ? "always" : "never";
  }
  if (scheme === "first" || scheme === "always" || scheme === "never") return scheme;
  return fail(`${where}.prepend_scheme must be "first", "always" or "never", found ${describe(scheme)}`);
}

function collect(fail: Fail, where: string, value: unknown, out: TokenDecoderStep[]): void {
  if (!isObject(value)) fail(`${where} must be an object, found ${describe(value)}`);
  switch (value.type) {
    case "Replace": {
      const re = parsePattern(fail, `${where}.pattern`, value.pattern);
      const content = requireString(fail, `${where}.content`, value.content);
      out.push((tokens) =>
        tokens.map((t) => {
          let s = "";
          for (const [a, b, isMatch] of regexSpans(re, t)) s += isMatch ? content : t.slice(a, b);
          return s;
        }),
      );
      return;
    }
    case "ByteFallback":
      out.push(byteFallback);
      return;
    case "Fuse":
      out.push((tokens) => [tokens.join("")]);
      return;
    case "Strip": {
      const content = singleChar(fail, `${where}.content`, value.content);
      const start = nonNegativeInt(fail, `${where}.start`, value.start);
      const stop = nonNegativeInt(fail, `${where}.stop`, value.stop);
      out.push((tokens) =>
        tokens.map((t) => {
          const chars = Array.from(t);
          let from = 0;
          while (from < start && from < chars.length && chars[from] === content) from++;
          let to = chars.length;
          for (let i = 0; i < stop && to > 0 && chars[to - 1] === content; i++) to--;
          return from >= to ? "" : chars.slice(from, to).join("");
        }),
      );
      return;
    }
    case "Metaspace": {
      const replacement = singleChar(fail, `${where}.replacement`, value.replacement ?? "▁");
      const scheme = prependScheme(fail, where, value);
      out.push((tokens) =>
        tokens.map((t, i) => {
          const dropAll = i === 0 && scheme !== "never";
          let s = "";
          for (const ch of t) s += ch === replacement ? (dropAll ? "" : " ") : ch;
          return s;
        }),
      );
      return;
    }
    case "Sequence": {
      const list = value.decoders;
      if (!Array.isArray(list)) fail(`${where}.decoders must be an array, found ${describe(list)}`);
      list.forEach((d: unknown, i) => collect(fail, `${where}.decoders[${i}]`, d, out));
      return;
    }
    default:
      fail(`${where}.type is ${JSON.stringify(typeOf(value))}; with a SentencePiece-style (non-byte-level) model the decoders supported are ${SUPPORTED}`);
  }
}

/** The decoder chain of `value` (tokenizer.json's "decoder") for a non-byte-level pipeline. */
export function parseTokenDecoder(fail: Fail, where: string, value: unknown): (tokens: string[]) => string {
  if (value === undefined || value === null) {
    fail(`${where} is missing; a SentencePiece-style tokenizer needs one (Metaspace, or Replace/ByteFallback/Fuse/Strip)`);
  }
  const steps: TokenDecoderStep[] = [];
  collect(fail, where, value, steps);
  return (tokens) => {
    let t = tokens;
    for (const step of steps) t = step(t);
    return t.join("");
  };
}
