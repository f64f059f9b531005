/**
 * The KV pool's blocks: which are free, how many sequences hold each (a reference count), and the
 * prefix cache — full blocks keyed by a hash of their tokens and everything before them
 * (block-key.ts), kept after their last holder lets go so that a later prompt with the same
 * prefix can share them, until their memory is needed (least recently used first). Knows nothing
 * of sequences or requests (kv-cache-manager.ts maps those onto blocks).
 */
export interface BlockPoolUsage {
  /** Blocks in the pool. */
  totalBlocks: number;
  /** Blocks held by at least one sequence. */
  usedBlocks: number;
  /** Blocks held by no sequence that keep a cached prefix; handed out again only when no block is free. */
  cachedBlocks: number;
  /** Blocks holding nothing. */
  freeBlocks: number;
}

export class BlockPool {
  private readonly refs: Int32Array;
  private readonly keys: (string | undefined)[];
  private readonly byKey = new Map<string, number>();
  /** Free blocks, the most recently freed last: handed out first, as its memory is likely warm (and, on the CPU, already committed). */
  private readonly free: number[] = [];
  /** Cached blocks that nobody holds, least recently released first (a Map keeps insertion order). */
  private readonly evictable = new Map<number, true>();
  private used = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`a block pool needs at least one block, got ${size}`);
    this.refs = new Int32Array(size);
    this.keys = new Array<string | undefined>(size);
    for (let b = size - 1; b >= 0; b--) this.free.push(b);
  }

  /** Blocks allocate() can hand out: the free ones and the cached ones nobody holds. */
  get available(): number {
    return this.free.length + this.evictable.size;
  }

  /** A block for one holder: a free one, else the least recently used cached one (its cache entry dropped). */
  allocate(): number {
    let block = this.free.pop();
    if (block === undefined) {
      const oldest = this.evictable.keys().next();
      if (oldest.done) throw new Error("the KV block pool is exhausted");
      block = oldest.value;
      this.evictable.delete(block);
      this.byKey.delete(this.keys[block]!);
      this.keys[block] = undefined;
    }
    this.refs[block] = 1;
    this.used++;
    return block;
  }

  /** The cached block holding `key`, with a reference taken for the caller; undefined when none is cached. */
  acquire(key: string): number | undefined {
    const block = this.byKey.get(key);
    if (block === undefined) return undefined;
    const refs = this.refs[block]!;
    this.refs[block] = refs + 1;
    if (refs === 0) {
      this.evictable.delete(block);
      this.used++;
    }
    return block;
  }

  /**
   * Records that `block`, which its holders have filled, holds `key`. When another block already
   * holds that key (two sequences computed the same prefix at once), the first stays the cached
   * one and this block stays private.
   */
  register(block: number, key: string): void {
    if (!(this.refs[block]! > 0)) throw new Error(`block ${block} is registered but nobody holds it`);
    if (this.keys[block] !== undefined || this.byKey.has(key)) return;
    this.keys[block] = key;
    this.byKey.set(key, block);
  }

  /** Lets go of one reference; with the last, a cached block becomes evictable and any other block free. */
  release(block: number): void {
    const refs = this.refs[block]!;
    if (refs <= 0) throw new Error(`block ${block} is released more often than it was taken`);
    this.refs[block] = refs - 1;
    if (refs > 1) return;
    this.used--;
    if (this.keys[block] !== undefined) this.evictable.set(block, true);
    else this.free.push(block);
  }

  usage(): BlockPoolUsage {
    return {
      totalBlocks: this.size,
      usedBlocks: this.used,
      cachedBlocks: this.evictable.size,
      freeBlocks: this.free.length,
    };
  }
}
