import { pinnedRangesClassBody } from "./unicode-pin.js";

/**
 * GPT-2's pre-tokenizer: the text is cut into pieces by
 *
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * and BPE runs on each piece separately. Notes on matching Hugging Face exactly:
 * - \s is Unicode White_Space (as in Oniguruma and Python's `regex`), not JavaScript's \s:
 *   U+0085 is white space, U+FEFF (BOM) is not.
 * - \p{L} and \p{N} leave out the Unicode 17 additions Hugging Face does not know yet
 *   (see unicode-pin.ts).
 * - The contractions are lower-case ASCII only, as in GPT-2 ("'S" is not one).
 * - `\s+(?!\S)` leaves the last white-space character of a run for the next word, so
 *   "a   b" splits as "a", "  ", " b".
 * - A lone surrogate (possible in a JavaScript string, impossible in Python's `str` as
 *   Hugging Face receives it) is an "other" character, and later becomes the UTF-8 of U+FFFD.
 */
function buildSplitRegex(): RegExp {
  const pinned = pinnedRangesClassBody();
  const letter = `[\\p{L}--[${pinned}]]`;
  const number = `[\\p{N}--[${pinned}]]`;
  const other = `[[^\\p{White_Space}\\p{L}\\p{N}][${pinned}]]`;
  const source = [
    "'s",
    "'t",
    "'re",
    "'ve",
    "'m",
    "'ll",
    "'d",
    ` ?${letter}+`,
    ` ?${number}+`,
    ` ?${other}+`,
    "\\p{White_Space}+(?!\\P{White_Space})",
    "\\p{White_Space}+",
  ].join("|");
  return new RegExp(source, "gv");
}

/** The split regex (global; use with String.prototype.match or matchAll, which reset it). */
export const GPT2_SPLIT: RegExp = buildSplitRegex();

/** The pieces GPT-2's regex cuts `text` into; their concatenation is `text`. */
export function pretokenize(text: string): string[] {
  return text.match(GPT2_SPLIT) ?? [];
}
