/** Find the tokenizer files that sit beside a checkpoint's weights. */
import { join } from "node:path";
import { statOrNull } from "./fs-util.js";
import type { TokenizerFiles } from "./types.js";

/**
 * Whether `file` is there. Anything there counts — a FIFO or a directory too — so that reading it
 * fails naming it, instead of the checkpoint quietly falling back to GPT-2's vocabulary.
 */
async function present(file: string): Promise<boolean> {
  return (await statOrNull(file).catch(() => true)) !== null;
}

/** tokenizer.json if present, else vocab.json + merges.txt if both are present, else null. */
export async function findTokenizerFiles(dir: string): Promise<TokenizerFiles | null> {
  const tokenizerJson = join(dir, "tokenizer.json");
  if (await present(tokenizerJson)) return { kind: "tokenizer.json", path: tokenizerJson };
  const vocab = join(dir, "vocab.json");
  const merges = join(dir, "merges.txt");
  const [hasVocab, hasMerges] = await Promise.all([present(vocab), present(merges)]);
  if (hasVocab && hasMerges) return { kind: "vocab+merges", vocab, merges };
  return null;
}
