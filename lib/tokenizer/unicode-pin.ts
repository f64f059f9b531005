/**
 * Hugging Face `tokenizers` (0.23, the version the reference ids were made with) runs
 * GPT-2's split regex in Oniguruma, whose \p{L} and \p{N} follow Unicode 16.0. Node's ICU
 * may know a newer Unicode: Node 20.20 ships Unicode 17.0, which adds the letters and
 * digits below. Oniguruma sees them as unassigned, so GPT-2's regex puts them in the
 * "other" class; we take them out of \p{L} and \p{N} to give the same ids on every Node.
 *
 * The list is what tests/fixtures/tokenizer/gpt2-charclasses.json (every code point's class
 * as Hugging Face's pre-tokenizer sees it) disagrees with Node 20.20 about. A Node whose
 * Unicode is older than 16.0 treats Unicode-16 letters as unassigned, unlike Hugging Face;
 * one newer than 17.0 may add letters that would need adding here.
 */
export const UNICODE_17_LETTERS_AND_NUMBERS: ReadonlyArray<readonly [number, number]> = [
  [0x088f, 0x088f],
  [0x0c5c, 0x0c5c],
  [0x0cdc, 0x0cdc],
  [0xa7ce, 0xa7cf],
  [0xa7d2, 0xa7d2],
  [0xa7d4, 0xa7d4],
  [0xa7f1, 0xa7f1],
  [0x10940, 0x10959],
  [0x10ec5, 0x10ec7],
  [0x11db0, 0x11ddb],
  [0x11de0, 0x11de9],
  [0x16ea0, 0x16eb8],
  [0x16ebb, 0x16ed3],
  [0x16ff2, 0x16ff6],
  [0x187f8, 0x187ff],
  [0x18d09, 0x18d1e],
  [0x18d80, 0x18df2],
  [0x1e6c0, 0x1e6de],
  [0x1e6e0, 0x1e6e2],
  [0x1e6e4, 0x1e6e5],
  [0x1e6e7, 0x1e6ed],
  [0x1e6f0, 0x1e6f4],
  [0x1e6fe, 0x1e6ff],
  [0x2b73a, 0x2b73f],
  [0x2cea2, 0x2cead],
  [0x323b0, 0x33479],
];

/** The ranges above as the body of a regex character class (for the `v` flag). */
export function pinnedRangesClassBody(): string {
  const hex = (cp: number): string => `\\u{${cp.toString(16)}}`;
  return UNICODE_17_LETTERS_AND_NUMBERS.map(([a, b]) => (a === b ? hex(a) : `${hex(a)}-${hex(b)}`)).join("");
}

/**
 * Every code point Unicode 17.0 assigns that Unicode 16.0 left unassigned (letters, marks,
 * symbols…): Node 20.20's ICU knows them, the Oniguruma, Rust `regex` and Rust `char` tables
 * inside tokenizers 0.23 do not. Found as Node's \P{Cn} minus Oniguruma's \P{Cn}; checked by
 * tests/fixtures/tokenizer/onig-classes.json. Translated patterns take these out of every
 * positive Unicode property (and add them to \p{Cn}), so a property matches what HF's does.
 */
export const UNICODE_17_ADDITIONS: ReadonlyArray<readonly [number, number]> = [
  [0x088f, 0x088f], [0x0c5c, 0x0c5c], [0x0cdc, 0x0cdc], [0x1acf, 0x1add], [0x1ae0, 0x1aeb],
  [0x20c1, 0x20c1], [0x2b96, 0x2b96], [0xa7ce, 0xa7cf], [0xa7d2, 0xa7d2], [0xa7d4, 0xa7d4],
  [0xa7f1, 0xa7f1], [0xfbc3, 0xfbd2], [0xfd90, 0xfd91], [0xfdc8, 0xfdce], [0x10940, 0x10959],
  [0x10ec5, 0x10ec7], [0x10ed0, 0x10ed8], [0x10efa, 0x10efb], [0x11b60, 0x11b67], [0x11db0, 0x11ddb],
  [0x11de0, 0x11de9], [0x16ea0, 0x16eb8], [0x16ebb, 0x16ed3], [0x16ff2, 0x16ff6], [0x187f8, 0x187ff],
  [0x18d09, 0x18d1e], [0x18d80, 0x18df2], [0x1ccfa, 0x1ccfc], [0x1ceba, 0x1ced0], [0x1cee0, 0x1cef0],
  [0x1e6c0, 0x1e6de], [0x1e6e0, 0x1e6f5], [0x1e6fe, 0x1e6ff], [0x1f6d8, 0x1f6d8], [0x1f777, 0x1f77a],
  [0x1f8d0, 0x1f8d8], [0x1fa54, 0x1fa57], [0x1fa8a, 0x1fa8a], [0x1fa8e, 0x1fa8e], [0x1fac8, 0x1fac8],
  [0x1facd, 0x1facd], [0x1faea, 0x1faea], [0x1faef, 0x1faef], [0x1fbfa, 0x1fbfa], [0x2b73a, 0x2b73f],
  [0x2cea2, 0x2cead], [0x323b0, 0x33479],
];

/** A v-flag character class holding `ranges`. */
export function rangesClass(ranges: ReadonlyArray<readonly [number, number]>): string {
  const hex = (cp: number): string => `\\u{${cp.toString(16)}}`;
  return "[" + ranges.map(([a, b]) => (a === b ? hex(a) : `${hex(a)}-${hex(b)}`)).join("") + "]";
}

/** A v-flag character class holding UNICODE_17_ADDITIONS. */
export const UNICODE_17_CLASS: string = rangesClass(UNICODE_17_ADDITIONS);

/** Whether HF's Unicode tables (16.0) leave `cp` unassigned while Node's know it. */
export function isUnicode17Addition(cp: number): boolean {
  for (const [a, b] of UNICODE_17_ADDITIONS) {
    if (cp < a) return false;
    if (cp <= b) return true;
  }
  return false;
}

/**
 * Code points whose normalization Hugging Face's NFC / NFD / NFKC / NFKD (the
 * unicode-normalization-alignments crate, Unicode 11-era tables) does not know but Node's
 * ICU does: new decompositions (U+32FF ㋿ → 令和, U+1FBF0 → 0…), new combining marks (a
 * non-zero combining class), and the first letters of new compositions. HF treats each as a
 * plain starter, so normalizers.ts normalizes the text between them and keeps them as they
 * are. Found by comparing HF with Node on every code point, alone and beside U+0345.
 */
export const NORMALIZATION_BARRIERS: ReadonlyArray<readonly [number, number]> = [
  [0x07fd, 0x07fd], [0x0897, 0x089f], [0x08ca, 0x08d3], [0x09fe, 0x09fe], [0x0c3c, 0x0c3c],
  [0x0d3b, 0x0d3c], [0x0eba, 0x0eba], [0x1715, 0x1715], [0x1abf, 0x1add], [0x1ae0, 0x1aeb],
  [0x1df6, 0x1dfa], [0x32ff, 0x32ff], [0xa7f1, 0xa7f4], [0xa82c, 0xa82c], [0xab69, 0xab69],
  [0x105c9, 0x105c9], [0x105d2, 0x105d2], [0x105da, 0x105da], [0x105e4, 0x105e4],
  [0x10781, 0x10785], [0x10787, 0x107b0], [0x107b2, 0x107ba], [0x10d24, 0x10d27],
  [0x10d69, 0x10d6d], [0x10eab, 0x10eac], [0x10efa, 0x10efb], [0x10efd, 0x10eff],
  [0x10f46, 0x10f50], [0x10f82, 0x10f85], [0x11070, 0x11070], [0x1133b, 0x1133b],
  [0x11382, 0x11385], [0x1138b, 0x1138b], [0x1138e, 0x1138e], [0x11390, 0x11391],
  [0x113c2, 0x113c2], [0x113c5, 0x113c5], [0x113c7, 0x113c8], [0x113ce, 0x113d0],
  [0x1145e, 0x1145e], [0x11839, 0x1183a], [0x11935, 0x11935], [0x11938, 0x11938],
  [0x1193d, 0x1193e], [0x11943, 0x11943], [0x119e0, 0x119e0], [0x11a34, 0x11a34],
  [0x11a47, 0x11a47], [0x11a99, 0x11a99], [0x11d42, 0x11d42], [0x11d44, 0x11d45],
  [0x11d97, 0x11d97], [0x11f41, 0x11f42], [0x1611e, 0x1611e], [0x16121, 0x16129],
  [0x1612f, 0x1612f], [0x16d63, 0x16d63], [0x16d67, 0x16d6a], [0x16ff0, 0x16ff1],
  [0x1ccd6, 0x1ccf9], [0x1e030, 0x1e06d], [0x1e08f, 0x1e08f], [0x1e130, 0x1e136],
  [0x1e2ae, 0x1e2ae], [0x1e2ec, 0x1e2ef], [0x1e4ec, 0x1e4ef], [0x1e5ee, 0x1e5ef],
  [0x1e6e3, 0x1e6e3], [0x1e6e6, 0x1e6e6], [0x1e6ee, 0x1e6ef], [0x1e6f5, 0x1e6f5],
  [0x1f16c, 0x1f16c], [0x1fbf0, 0x1fbf9],
];

/**
 * General categories Unicode 17 changed for code points Unicode 16 already had: U+0295 ʕ
 * went from Ll to Lo. Oniguruma keeps the 16.0 category (checked by onig-classes.json).
 */
export const UNICODE_17_CATEGORY_CHANGES: ReadonlyArray<{ cp: number; was: string; now: string }> = [
  { cp: 0x0295, was: "Ll", now: "Lo" },
];
