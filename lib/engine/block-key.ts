/**
 * The prefix cache's key of a full KV block: a SHA-256 over the previous block's key and this
 * block's token ids, so equal keys mean equal token prefixes up to the block's end (the keys
 * and values a block holds depend on every token before it). A collision is as unlikely as one of
 * SHA-256, which is why no cheaper hash is used: a collision would silently share wrong keys and
 * values.
 */
import { createHash } from "node:crypto";

export function blockKey(previous: string | null, tokens: readonly number[]): string {
  const hash = createHash("sha256");
  if (previous !== null) hash.update(previous, "hex");
  hash.update(new Uint8Array(Int32Array.from(tokens).buffer));
  return hash.digest("hex");
}
