/**
 * Cutting a piece of text by a pattern, as Hugging Face's `NormalizedString::split` does:
 * the pattern yields spans (match or not) covering the text, the behavior decides which
 * spans are kept and which are glued together, and empty pieces are dropped.
 */
import { OnigTranslationError, literalPattern, translateOniguruma } from "./onig-regex.js";
import { describe, isObject, type Fail } from "./parse-util.js";

export type SplitBehavior = "Removed" | "Isolated" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";

export const SPLIT_BEHAVIORS: readonly SplitBehavior[] = ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"];

/** [start, end, isMatch], in UTF-16 units; consecutive and covering the whole text. */
export type Span = [number, number, boolean];

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

function codePointLength(text: string, at: number): number {
  const c = text.charCodeAt(at);
  if (c >= 0xd800 && c <= 0xdbff && at + 1 < text.length) {
    const d = text.charCodeAt(at + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

/**
 * The spans of `re`'s matches in `text`, found as the onig crate's `find_iter` finds them
 * (tokenizers' SysRegex): each search starts where the last match ended; an empty match
 * moves the start on by one character, and an empty match found right after a non-empty
 * one is skipped. `re` must have the `g` flag.
 */
export function regexSpans(re: RegExp, text: string): Span[] {
  if (text.length === 0) return [[0, 0, false]];
  const out: Span[] = [];
  let prev = 0;
  let lastEnd = 0;
  let skipNextEmpty = false;
  while (lastEnd <= text.length) {
    re.lastIndex = lastEnd;
    const m = re.exec(text);
    if (m === null) break;
    const start = m.index;
    if (start > 0 && isLowSurrogate(text.charCodeAt(start)) && isHighSurrogate(text.charCodeAt(start - 1))) {
      // V8 tries positions inside a surrogate pair for a pattern that can match empty (a
      // lookaround); Oniguruma never splits a character, so search on from the next one.
      lastEnd = start + 1;
      continue;
    }
    const end = start + m[0].length;
    lastEnd = end;
    if (end === start) {
      lastEnd += lastEnd < text.length ? codePointLength(text, lastEnd) : 1;
      if (skipNextEmpty) {
        skipNextEmpty = false;
        continue;
      }
    } else {
      skipNextEmpty = true;
    }
    if (prev !== start) out.push([prev, start, false]);
    out.push([start, end, true]);
    prev = end;
  }
  if (prev !== text.length) out.push([prev, text.length, false]);
  return out;
}

/** Apply a split behavior to the spans: the [start, end] of each piece to keep. */
export function applyBehavior(spans: readonly Span[], behavior: SplitBehavior): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let previousMatch = false;
  switch (behavior) {
    case "Isolated":
      for (const [s, e] of spans) out.push([s, e]);
      return out;
    case "Removed":
      for (const [s, e, isMatch] of spans) if (!isMatch) out.push([s, e]);
      return out;
    case "Contiguous":
      for (const [s, e, isMatch] of spans) {
        const last = out[out.length - 1];
        if (isMatch === previousMatch && last !== undefined) last[1] = e;
        else out.push([s, e]);
        previousMatch = isMatch;
      }
      return out;
    case "MergedWithPrevious":
      for (const [s, e, isMatch] of spans) {
        const last = out[out.length - 1];
        if (isMatch && !previousMatch && last !== undefined) last[1] = e;
        else out.push([s, e]);
        previousMatch = isMatch;
      }
      return out;
    case "MergedWithNext":
      for (let i = spans.length - 1; i >= 0; i--) {
        const [s, e, isMatch] = spans[i]!;
        const last = out[out.length - 1];
        if (isMatch && !previousMatch && last !== undefined) last[0] = s;
        else out.push([s, e]);
        previousMatch = isMatch;
      }
      return out.reverse();
  }
}

/** A pattern for splitting: a regex (global, `v` flag) whose matches are the delimiters. */
export class SplitPattern {
  constructor(
    private readonly re: RegExp,
    private readonly invert: boolean,
  ) {}

  spans(text: string): Span[] {
    const spans = regexSpans(this.re, text);
    if (this.invert) for (const span of spans) span[2] = !span[2];
    return spans;
  }

  /** Cut `text`; empty pieces are left out (as PreTokenizedString::split drops them). */
  split(text: string, behavior: SplitBehavior, out: string[]): void {
    for (const [s, e] of applyBehavior(this.spans(text), behavior)) if (e > s) out.push(text.slice(s, e));
  }
}

/**
 * A tokenizer.json pattern, {"String": "…"} (a literal) or {"Regex": "…"} (Oniguruma), as a
 * global `v`-flag RegExp. `where` names the field in messages.
 */
export function parsePattern(fail: Fail, where: string, value: unknown): RegExp {
  if (!isObject(value)) fail(`${where} must be {"String": …} or {"Regex": …}, found ${describe(value)}`);
  if (typeof value.String === "string") return new RegExp(literalPattern(value.String) || "(?:)", "gv");
  if (typeof value.Regex === "string") {
    try {
      return new RegExp(translateOniguruma(value.Regex) || "(?:)", "gv");
    } catch (err) {
      if (err instanceof OnigTranslationError) fail(`${where}.Regex: ${err.message}`);
      throw err;
    }
  }
  return fail(`${where} must be {"String": …} or {"Regex": …}, found an object with keys ${Object.keys(value).join(", ") || "none"}`);
}
