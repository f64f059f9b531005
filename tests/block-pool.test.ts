// The batched engine's bookkeeping on its own, with fake sequences (no model): the block pool's
// reference counts and prefix cache, the KV cache manager's sharing and release, and the
// scheduler's step plans, admission order and preemption.
import { describe, expect, it } from "vitest";

import { blockKey } from "../lib/engine/block-key.js";
import { BlockPool } from "../lib/engine/block-pool.js";
import { KvCacheManager } from "../lib/engine/kv-cache-manager.js";
import { Scheduler } from "../lib/engine/scheduler.js";
import { Sequence, type SequenceOwner } from "../lib/engine/sequence.js";

const B = 16;

/** An owner that is never called: the scheduler alone does not talk to owners. */
const OWNER: SequenceOwner = {
  output: "sample",
  sampling: () => ({ temperature: 0, topK: 0, topP: 1, u: 0 }),
  started: () => {},
  token: () => "continue",
  logits: () => {},
  done: () => {},
  failed: () => {},
};

const seq = (length: number, first = 0, shares = true) =>
  new Sequence(Array.from({ length }, (_, i) => first + i), OWNER, shares);

/** Runs a step's segments as the engine would: their positions are now computed. */
function run(kv: KvCacheManager, segments: ReturnType<Scheduler["schedule"]>): void {
  for (const { seq: s, start, rows } of segments) {
    s.computed = start + rows;
    kv.commit(s);
  }
}

describe("block keys", () => {
  it("depend on the tokens and on everything before them", () => {
    const a = blockKey(null, [1, 2, 3]);
    expect(blockKey(null, [1, 2, 3])).toBe(a);
    expect(blockKey(null, [1, 2, 4])).not.toBe(a);
    expect(blockKey(a, [5])).not.toBe(blockKey(blockKey(null, [9]), [5]));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("BlockPool", () => {
  it("hands out free blocks, most recently freed first, and counts them", () => {
    const pool = new BlockPool(4);
    expect(pool.usage()).toEqual({ totalBlocks: 4, usedBlocks: 0, cachedBlocks: 0, freeBlocks: 4 });
    const a = pool.allocate();
    const b = pool.allocate();
    expect(new Set([a, b]).size).toBe(2);
    expect(pool.usage()).toMatchObject({ usedBlocks: 2, freeBlocks: 2 });
    pool.release(a);
    expect(pool.allocate()).toBe(a);
    expect(() => pool.release(3)).toThrow(/released more often than it was taken/);
  });

  it("keeps a registered block as cache after its last holder, shares it, and evicts the least recently used", () => {
    const pool = new BlockPool(3);
    const [x, y, z] = [pool.allocate(), pool.allocate(), pool.allocate()];
    pool.register(x, "kx");
    pool.register(y, "ky");
    pool.release(x);
    pool.release(y);
    expect(pool.usage()).toEqual({ totalBlocks: 3, usedBlocks: 1, cachedBlocks: 2, freeBlocks: 0 });
    expect(pool.available).toBe(2);
    // Sharing a cached block takes a reference and makes it unevictable.
    expect(pool.acquire("ky")).toBe(y);
    expect(pool.acquire("ky")).toBe(y);
    expect(pool.acquire("nope")).toBeUndefined();
    expect(pool.usage()).toMatchObject({ usedBlocks: 2, cachedBlocks: 1 });
    // With no free block, allocate evicts the cached block nobody holds (x), dropping its key.
    expect(pool.allocate()).toBe(x);
    expect(pool.acquire("kx")).toBeUndefined();
    expect(() => pool.allocate()).toThrow(/exhausted/);
    pool.release(y);
    pool.release(y);
    pool.release(z);
    expect(pool.usage()).toMatchObject({ usedBlocks: 1, cachedBlocks: 1, freeBlocks: 1 });
  });

  it("evicts in the order blocks were last released, and keeps the first block of a duplicated key", () => {
    const pool = new BlockPool(4);
    const blocks = [pool.allocate(), pool.allocate(), pool.allocate()];
    blocks.forEach((b, i) => pool.register(b, `k${i}`));
    pool.register(pool.allocate(), "k0"); // a second block with a key already cached stays private
    for (const b of [blocks[1]!, blocks[0]!, blocks[2]!]) pool.release(b);
    expect(pool.acquire("k0")).toBe(blocks[0]);
    pool.release(blocks[0]!); // now the most recently used
    expect([pool.allocate(), pool.allocate(), pool.allocate()]).toEqual([blocks[1], blocks[2], blocks[0]]);
  });
});

describe("KvCacheManager", () => {
  it("shares the cached full blocks of a prompt's prefix, leaving at least its last token to compute", () => {
    const kv = new KvCacheManager(new BlockPool(8), B);
    const first = seq(40);
    expect(kv.reserve(first, 40)).toBe(true);
    expect(first.blocks).toHaveLength(3);
    first.computed = 40;
    kv.commit(first); // two full blocks registered
    kv.release(first);
    expect(kv.pool.usage().cachedBlocks).toBe(2);

    const hit = seq(50); // same first 40 tokens
    expect(kv.sharePrefix(hit)).toBe(32);
    expect(hit.computed).toBe(32);
    // A prompt of exactly two blocks shares only the first: its last token must be computed.
    const exact = seq(32);
    expect(kv.sharePrefix(exact)).toBe(16);
    const other = seq(40, 1000);
    expect(kv.sharePrefix(other)).toBe(0);
  });

  it("releases a sequence's last block first, so eviction keeps the prefix that can still be found", () => {
    const kv = new KvCacheManager(new BlockPool(5), B);
    const first = seq(64);
    expect(kv.reserve(first, 64)).toBe(true);
    first.computed = 64;
    kv.commit(first);
    kv.release(first); // four cached blocks, one free
    const other = kv.pool.allocate(); // the free one
    kv.pool.allocate(); // evicts one cached block: the prefix's last, not its first
    const again = seq(70);
    expect(kv.sharePrefix(again)).toBe(48);
    kv.pool.release(other);
  });

  it("reserve takes nothing when the pool is short, and release returns every block", () => {
    const kv = new KvCacheManager(new BlockPool(3), B);
    const a = seq(30);
    expect(kv.reserve(a, 30)).toBe(true);
    const b = seq(40);
    expect(kv.reserve(b, 40)).toBe(false);
    expect(b.blocks).toEqual([]);
    expect(kv.reserve(b, 16)).toBe(true);
    kv.release(a);
    kv.release(b);
    expect(kv.pool.usage()).toMatchObject({ usedBlocks: 0, freeBlocks: 3 });
  });
});

describe("Scheduler", () => {
  const make = (blocks: number, maxSequences = 4, maxBatchTokens = 64) => {
    const kv = new KvCacheManager(new BlockPool(blocks), B);
    return { kv, scheduler: new Scheduler(kv, { maxSequences, maxBatchTokens }) };
  };

  it("chunks a long prompt to the token budget and puts decode rows first", () => {
    const { kv, scheduler } = make(32, 4, 64);
    const long = seq(150);
    const short = seq(3, 500);
    scheduler.add(short);
    scheduler.add(long);
    let plan = scheduler.schedule();
    expect(plan.map((s) => [s.seq, s.start, s.rows])).toEqual([
      [short, 0, 3],
      [long, 0, 61],
    ]);
    run(kv, plan);
    short.tokens.push(7); // the engine appends the picked token
    plan = scheduler.schedule();
    expect(plan.map((s) => [s.seq, s.start, s.rows])).toEqual([
      [short, 3, 1],
      [long, 61, 63],
    ]);
  });

  it("admits at most maxSequences, first come first served, and the rest wait", () => {
    const { scheduler } = make(64, 2, 64);
    const seqs = [seq(5), seq(5, 100), seq(5, 200)];
    for (const s of seqs) scheduler.add(s);
    expect(scheduler.schedule().map((s) => s.seq)).toEqual([seqs[0], seqs[1]]);
    expect(seqs[2]!.state).toBe("waiting");
    scheduler.finish(seqs[0]!);
    expect(scheduler.schedule().map((s) => s.seq)).toContain(seqs[2]);
  });

  it("preempts the most recently admitted sequence when a running one needs a block, and recomputes it later", () => {
    const { kv, scheduler } = make(4, 4, 64);
    const a = seq(16);
    const b = seq(16, 100);
    scheduler.add(a);
    scheduler.add(b);
    run(kv, scheduler.schedule()); // a and b each hold one full block; 2 blocks left
    a.tokens.push(1);
    b.tokens.push(2);
    const c = seq(20, 200);
    scheduler.add(c);
    run(kv, scheduler.schedule()); // decode rows of a and b take a block each; c waits for blocks
    expect(c.state).toBe("waiting");
    expect(kv.pool.available).toBe(0);
    for (let i = 0; i < 15; i++) {
      a.tokens.push(1);
      b.tokens.push(2);
      run(kv, scheduler.schedule());
    }
    // a's next position needs a fifth block: b, the newer, is preempted and a goes on.
    a.tokens.push(1);
    b.tokens.push(2);
    const plan = scheduler.schedule();
    expect(plan.map((s) => s.seq)).toEqual([a]);
    expect(b.state).toBe("waiting");
    expect(b.blocks).toEqual([]);
    expect(scheduler.waiting[0]).toBe(b); // back at the front of the queue
    run(kv, plan);
    scheduler.finish(a);
    // b comes back, sharing what is left of its own cached blocks, and recomputes the rest.
    const again = scheduler.schedule();
    expect(again[0]!.seq).toBe(b);
    expect(again[0]!.start + again[0]!.rows).toBe(b.tokens.length);
  });

  it("a sequence that cannot fit even alone preempts itself rather than spin", () => {
    const { kv, scheduler } = make(2, 4, 64);
    const a = seq(32);
    scheduler.add(a);
    run(kv, scheduler.schedule());
    a.tokens.push(1); // position 32 needs a third block
    expect(scheduler.schedule()).toEqual([]);
    expect(a.state).toBe("waiting");
  });

  it("pause releases the blocks (kept as cache) and resume re-admits with a prefix hit", () => {
    const { kv, scheduler } = make(8, 4, 64);
    const a = seq(40);
    scheduler.add(a);
    run(kv, scheduler.schedule());
    a.tokens.push(9);
    scheduler.pause(a);
    expect(a.state).toBe("paused");
    expect(kv.pool.usage()).toMatchObject({ usedBlocks: 0, cachedBlocks: 2 });
    expect(scheduler.schedule()).toEqual([]);
    scheduler.resume(a);
    const plan = scheduler.schedule();
    expect(plan.map((s) => [s.start, s.rows])).toEqual([[32, 9]]);
    expect(a.cachedTokens).toBe(0); // counted at the first admission only
  });
});
