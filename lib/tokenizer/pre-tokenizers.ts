/**
 * tokenizer.json pre-tokenizers: each step cuts every piece into smaller pieces, as Hugging
 * Face's PreTokenizedString::split does (empty pieces are dropped).
 *
 * - ByteLevel: a space before a piece that does not start with one (add_prefix_space, per
 *   piece), GPT-2's split regex (use_regex), then the piece's UTF-8 bytes as byte
 *   characters. When ByteLevel is the last step that conversion is left to the BPE model,
 *   which reads the bytes directly (the GPT-2 fast path).
 * - Split: a literal or Oniguruma pattern (onig-regex.ts), any behavior, invert.
 * - Digits (Rust's char::is_numeric: \p{N}), Whitespace (\w+|[^\w\s]+ of Rust's regex crate),
 *   WhitespaceSplit (White_Space), Sequence.
 */
import { prependScheme } from "./decoders.js";
import { toByteChars } from "./normalizers.js";
import { describe, isObject, optionalBool, typeOf, type Fail } from "./parse-util.js";
import { literalPattern } from "./onig-regex.js";
import { GPT2_SPLIT } from "./pretokenize.js";
import { SPLIT_BEHAVIORS, SplitPattern, parsePattern, type SplitBehavior } from "./split.js";
import { UNICODE_17_CLASS } from "./unicode-pin.js";

/** `atStart`: the first piece begins the original text (Metaspace's prepend_scheme "first"). */
export type PreTokenizerStep = (pieces: string[], atStart?: boolean) => string[];

export interface PreTokenizerPlan {
  steps: PreTokenizerStep[];
  /** Some step is ByteLevel (or the normalizer was): what reaches the model stands for bytes. */
  byteLevel: boolean;
  /** The last step is ByteLevel and left its conversion to the model: pieces are still text. */
  bytesDeferred: boolean;
  /** The whole pre-tokenizer is GPT-2's (one ByteLevel with the regex): its add_prefix_space. */
  gpt2: { addPrefixSpace: boolean } | null;
}

type StepSpec =
  | { kind: "ByteLevel"; addPrefixSpace: boolean; useRegex: boolean }
  | { kind: "Split"; pattern: SplitPattern; behavior: SplitBehavior }
  | { kind: "Metaspace"; replacement: string; scheme: "first" | "always" | "never"; split: boolean };

const SUPPORTED = "ByteLevel, Metaspace, Split, Digits, Whitespace, WhitespaceSplit and Sequence";

/** Rust's char::is_numeric (Rust's tables are as new as Node's: no pinning). */
const NUMERIC = /\p{N}/gu;
const WHITE_SPACE = /\p{White_Space}/gu;
/** Rust regex's \w+|[^\w\s]+ (its Unicode tables are 16.0). */
const RUST_WORD = `[[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]--${UNICODE_17_CLASS}]`;
const WHITESPACE_WORDS = new RegExp(`${RUST_WORD}+|[^${RUST_WORD}\\p{White_Space}]+`, "gv");

function parseBehavior(fail: Fail, where: string, v: unknown): SplitBehavior {
  if (typeof v === "string" && (SPLIT_BEHAVIORS as readonly string[]).includes(v)) return v as SplitBehavior;
  return fail(`${where} must be one of ${SPLIT_BEHAVIORS.join(", ")}, found ${describe(v)}`);
}

function collect(fail: Fail, where: string, value: unknown, out: StepSpec[]): void {
  if (!isObject(value)) fail(`${where} must be an object, found ${describe(value)}`);
  switch (value.type) {
    case "ByteLevel":
      out.push({
        kind: "ByteLevel",
        addPrefixSpace: optionalBool(fail, `${where}.add_prefix_space`, value.add_prefix_space, false),
        useRegex: optionalBool(fail, `${where}.use_regex`, value.use_regex, true),
      });
      return;
    case "Split": {
      const re = parsePattern(fail, `${where}.pattern`, value.pattern);
      const invert = optionalBool(fail, `${where}.invert`, value.invert, false);
      out.push({ kind: "Split", pattern: new SplitPattern(re, invert), behavior: parseBehavior(fail, `${where}.behavior`, value.behavior) });
      return;
    }
    case "Metaspace": {
      const replacement = value.replacement ?? "▁";
      if (typeof replacement !== "string" || Array.from(replacement).length !== 1) {
        fail(`${where}.replacement must be one character, found ${describe(replacement)}`);
      }
      out.push({
        kind: "Metaspace",
        replacement,
        scheme: prependScheme(fail, where, value),
        split: optionalBool(fail, `${where}.split`, value.split, true),
      });
      return;
    }
    case "Digits": {
      const individual = optionalBool(fail, `${where}.individual_digits`, value.individual_digits, false);
      out.push({ kind: "Split", pattern: new SplitPattern(NUMERIC, false), behavior: individual ? "Isolated" : "Contiguous" });
      return;
    }
    case "Whitespace":
      out.push({ kind: "Split", pattern: new SplitPattern(WHITESPACE_WORDS, true), behavior: "Removed" });
      return;
    case "WhitespaceSplit":
      out.push({ kind: "Split", pattern: new SplitPattern(WHITE_SPACE, false), behavior: "Removed" });
      return;
    case "Sequence": {
      const list = value.pretokenizers;
      if (!Array.isArray(list)) fail(`${where}.pretokenizers must be an array, found ${describe(list)}`);
      list.forEach((p: unknown, i) => collect(fail, `${where}.pretokenizers[${i}]`, p, out));
      return;
    }
    default:
      fail(`${where}.type is ${JSON.stringify(typeOf(value))}; the pre-tokenizers supported are ${SUPPORTED}`);
  }
}

function byteLevelStep(spec: { addPrefixSpace: boolean; useRegex: boolean }, convert: boolean): PreTokenizerStep {
  return (pieces) => {
    const out: string[] = [];
    for (let piece of pieces) {
      if (spec.addPrefixSpace && !piece.startsWith(" ")) piece = " " + piece;
      const parts = spec.useRegex ? (piece.match(GPT2_SPLIT) ?? []) : [piece];
      for (const part of parts) out.push(convert ? toByteChars(part) : part);
    }
    return out;
  };
}

/** tokenizers' Metaspace: spaces → the replacement, the prepend scheme, then a split before each replacement. */
function metaspaceStep(spec: { replacement: string; scheme: "first" | "always" | "never"; split: boolean }): PreTokenizerStep {
  const { replacement, scheme } = spec;
  const splitter = new SplitPattern(new RegExp(literalPattern(replacement), "gv"), false);
  return (pieces, atStart = false) => {
    const out: string[] = [];
    pieces.forEach((piece, i) => {
      let s = piece.replaceAll(" ", replacement);
      if (!s.startsWith(replacement) && (scheme === "always" || (scheme === "first" && i === 0 && atStart))) s = replacement + s;
      if (spec.split) splitter.split(s, "MergedWithNext", out);
      else if (s.length > 0) out.push(s);
    });
    return out;
  };
}

function splitStep(pattern: SplitPattern, behavior: SplitBehavior): PreTokenizerStep {
  return (pieces) => {
    const out: string[] = [];
    for (const piece of pieces) pattern.split(piece, behavior, out);
    return out;
  };
}

/** The pre-tokenizer described by `value` (tokenizer.json's "pre_tokenizer"; null: none). */
export function parsePreTokenizer(fail: Fail, where: string, value: unknown): PreTokenizerPlan {
  const specs: StepSpec[] = [];
  if (value !== undefined && value !== null) collect(fail, where, value, specs);
  const last = specs.length - 1;
  const steps = specs.map((spec, i) =>
    spec.kind === "ByteLevel"
      ? byteLevelStep(spec, i !== last)
      : spec.kind === "Metaspace"
        ? metaspaceStep(spec)
        : splitStep(spec.pattern, spec.behavior),
  );
  const only = specs.length === 1 ? specs[0] : undefined;
  return {
    steps,
    byteLevel: specs.some((s) => s.kind === "ByteLevel"),
    bytesDeferred: specs[last]?.kind === "ByteLevel",
    gpt2: only?.kind === "ByteLevel" && only.useRegex ? { addPrefixSpace: only.addPrefixSpace } : null,
  };
}
