/**
 * The BPE merge loop over token ids. A word starts as the ids of its bytes' characters;
 * the adjacent pair with the lowest merge rank is merged (the leftmost one on ties) until no
 * adjacent pair has a merge. This is Hugging Face's rule (tokenizers' `merge_word`), and for
 * GPT-2's vocabulary also that of OpenAI's original encoder (which merges every occurrence of
 * the best pair at once).
 *
 * tokenizers keeps a queue of (rank, position) and, when an entry comes up, merges if the
 * pair now at that position makes the queued token. Because the token a pair makes is the
 * vocabulary entry for the concatenated strings, and the text a position's pair covers only
 * grows, that is the same as "the pair is unchanged", so the plain scan below is equivalent.
 */

import type { PairTable } from "./pair-table.js";

export interface MergeTable {
  /** Id pair → rank (0 = merged first), -1 for none. */
  readonly rankOf: PairTable;
  /** Rank → id of the merged token. */
  readonly resultOf: Int32Array;
}

/** Words with at most this many symbols use the scan; longer ones the queue (O(n log n)). */
const SCAN_LIMIT = 48;

/** Merge `ids` (the byte ids of one word) in place as far as the table allows; returns them. */
export function mergeWord(ids: number[], table: MergeTable): number[] {
  if (ids.length < 2) return ids;
  if (ids.length <= SCAN_LIMIT) return mergeByScan(ids, table);
  return mergeWithQueue(ids, table);
}

/** Repeatedly find the lowest-ranked adjacent pair and merge it. O(n²); fast for short words. */
export function mergeByScan(ids: number[], table: MergeTable): number[] {
  const { rankOf, resultOf } = table;
  for (;;) {
    let bestRank = Infinity;
    let bestAt = -1;
    for (let i = 0; i + 1 < ids.length; i++) {
      const rank = rankOf.get(ids[i]!, ids[i + 1]!);
      if (rank >= 0 && rank < bestRank) {
        bestRank = rank;
        bestAt = i;
      }
    }
    if (bestAt < 0) return ids;
    ids[bestAt] = resultOf[bestRank]!;
    ids.splice(bestAt + 1, 1);
    if (ids.length < 2) return ids;
  }
}

/**
 * The same merges with a min-queue of (rank, position) and a linked list of symbols, as
 * tokenizers does it: a queued merge is skipped when its left symbol is gone or the pair
 * there has changed.
 */
export function mergeWithQueue(input: number[], table: MergeTable): number[] {
  const { rankOf, resultOf } = table;
  const n = input.length;
  const id = Int32Array.from(input);
  const prev = new Int32Array(n);
  const next = new Int32Array(n);
  const alive = new Uint8Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  // Queue entries pack (rank, position) as rank * n + position, so numeric order is
  // rank first, then position.
  const heap: number[] = [];
  const push = (rank: number, pos: number): void => {
    let i = heap.length;
    const entry = rank * n + pos;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (p <= entry) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    const size = heap.length;
    if (size > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= size) break;
        const r = l + 1;
        const c = r < size && heap[r]! < heap[l]! ? r : l;
        if (heap[c]! >= last) break;
        heap[i] = heap[c]!;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  };
  const queuePair = (left: number): void => {
    const right = next[left]!;
    if (right < 0) return;
    const rank = rankOf.get(id[left]!, id[right]!);
    if (rank >= 0) push(rank, left);
  };

  for (let i = 0; i + 1 < n; i++) queuePair(i);
  while (heap.length > 0) {
    const entry = pop();
    const pos = entry % n;
    const rank = (entry - pos) / n;
    if (!alive[pos]) continue;
    const right = next[pos]!;
    if (right < 0) continue;
    if (rankOf.get(id[pos]!, id[right]!) !== rank) continue;
    id[pos] = resultOf[rank]!;
    alive[right] = 0;
    const after = next[right]!;
    next[pos] = after;
    if (after >= 0) prev[after] = pos;
    const before = prev[pos]!;
    if (before >= 0) queuePair(before);
    queuePair(pos);
  }
  const out: number[] = [];
  for (let i = 0; i >= 0; i = next[i]!) out.push(id[i]!);
  return out;
}
