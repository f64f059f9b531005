/**
 * Maps sequences onto the block pool: shares a cached prefix, grows a block table to cover new
 * positions, registers full blocks in the prefix cache, and releases a sequence's blocks. Knows
 * nothing of scheduling (scheduler.ts decides who runs) or of the model.
 */
import { blockKey } from "./block-key.js";
import type { BlockPool } from "./block-pool.js";
import type { Sequence } from "./sequence.js";

export class KvCacheManager {
  constructor(
    readonly pool: BlockPool,
    readonly blockSize: number,
  ) {}

  blocksFor(positions: number): number {
    return Math.ceil(positions / this.blockSize);
  }

  /**
   * Takes the longest cached prefix of the sequence's tokens, in whole blocks, that leaves its
   * last token to compute (that token's logits are what the next step needs). The sequence must
   * hold no blocks. Returns the positions it now has.
   */
  sharePrefix(seq: Sequence): number {
    if (seq.blocks.length > 0) throw new Error("sharePrefix: the sequence already holds blocks");
    const limit = this.shareablePositions(seq) / this.blockSize;
    for (let i = 0; i < limit; i++) {
      const block = this.pool.acquire(this.key(seq, i));
      if (block === undefined) break;
      seq.blocks.push(block);
    }
    seq.registered = seq.blocks.length;
    seq.computed = seq.blocks.length * this.blockSize;
    return seq.computed;
  }

  /** The positions sharePrefix could take from the cache: whole blocks, leaving the last token to compute. */
  shareablePositions(seq: Sequence): number {
    return Math.floor((seq.tokens.length - 1) / this.blockSize) * this.blockSize;
  }

  /** Grows the block table to cover `positions`; false, taking nothing, when the pool has too few blocks. */
  reserve(seq: Sequence, positions: number): boolean {
    const need = this.blocksFor(positions) - seq.blocks.length;
    if (need <= 0) return true;
    if (this.pool.available < need) return false;
    for (let i = 0; i < need; i++) seq.blocks.push(this.pool.allocate());
    return true;
  }

  /** Puts the sequence's blocks that are full of computed positions into the prefix cache. */
  commit(seq: Sequence): void {
    const full = Math.floor(seq.computed / this.blockSize);
    for (; seq.registered < full; seq.registered++)
      this.pool.register(seq.blocks[seq.registered]!, this.key(seq, seq.registered));
  }

  /**
   * Lets go of all the sequence's blocks (registered ones stay cached); it has no positions after.
   * Last block first: the pool evicts the least recently released first, and a prefix is only
   * found again from its first block on, so the first blocks must be the last to go.
   */
  release(seq: Sequence): void {
    for (let i = seq.blocks.length - 1; i >= 0; i--) this.pool.release(seq.blocks[i]!);
    seq.blocks = [];
    seq.registered = 0;
    seq.computed = 0;
  }

  /** The prefix-cache key of block i: its tokens and, through the previous key, all before them. */
  private key(seq: Sequence, i: number): string {
    for (let j = seq.keys.length; j <= i; j++) {
      const tokens = seq.tokens.slice(j * this.blockSize, (j + 1) * this.blockSize);
      seq.keys.push(blockKey(j === 0 ? null : seq.keys[j - 1]!, tokens));
    }
    return seq.keys[i]!;
  }
}
