/**
 * An open-addressing hash table from an id pair (left, right) to a merge rank. Pair keys do
 * not fit in small integers, and a Map keyed by left * size + right boxes every key; this
 * keeps both ids in typed arrays, which makes building and probing several times faster.
 */
export class PairTable {
  private readonly mask: number;
  private readonly lefts: Int32Array;
  private readonly rights: Int32Array;
  private readonly ranks: Int32Array;

  /** `capacityHint`: how many pairs will be stored. */
  constructor(capacityHint: number) {
    let size = 16;
    while (size < capacityHint * 2) size *= 2;
    this.mask = size - 1;
    this.lefts = new Int32Array(size).fill(-1);
    this.rights = new Int32Array(size);
    this.ranks = new Int32Array(size);
  }

  private static hash(left: number, right: number): number {
    return (Math.imul(left, 0x9e3779b1) ^ Math.imul(right + 0x632be5ab, 0x85ebca77)) >>> 0;
  }

  /** Store (left, right) → rank; a pair stored again takes the new rank. */
  set(left: number, right: number, rank: number): void {
    let i = PairTable.hash(left, right) & this.mask;
    for (;;) {
      const l = this.lefts[i]!;
      if (l === -1 || (l === left && this.rights[i] === right)) {
        this.lefts[i] = left;
        this.rights[i] = right;
        this.ranks[i] = rank;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  /** The rank of (left, right), or -1 when the pair has no merge. */
  get(left: number, right: number): number {
    let i = PairTable.hash(left, right) & this.mask;
    for (;;) {
      const l = this.lefts[i]!;
      if (l === left && this.rights[i] === right) return this.ranks[i]!;
      if (l === -1) return -1;
      i = (i + 1) & this.mask;
    }
  }
}
