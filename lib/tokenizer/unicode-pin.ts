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
