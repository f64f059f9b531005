/** Find the tokenizer files that sit beside a checkpoint's weights. */
import { join } from "node:path";
import { isRegularFile } from "./fs-util.js";
import type { TokenizerFiles } from "./types.js";

/** tokenizer.json if present, else vocab.json + merges.txt if both are present, else null. */
export async function findTokenizerFiles(dir: string): Promise<TokenizerFiles | null> {
  const tokenizerJson = join(dir, "tokenizer.json");
  if (await isRegularFile(tokenizerJson)) return { kind: "tokenizer.json", path: tokenizerJson };
  const vocab = join(dir, "vocab.json");
  const merges = join(dir, "merges.txt");
  const [hasVocab, hasMerges] = await Promise.all([isRegularFile(vocab), isRegularFile(merges)]);
  if (hasVocab && hasMerges) return { kind: "vocab+merges", vocab, merges };
  return null;
}
