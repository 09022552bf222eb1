/**
 * A fixed-size bitset over a Uint32Array that keeps a 32-bit hash of its
 * contents up to date on every set/clear, so the search can look up
 * (linearized set, state) pairs without rehashing the whole set each step.
 *
 * The hash is the XOR of a well-mixed value per member (Zobrist-style): XOR is
 * its own inverse, so clear() undoes set() in O(1).
 */
export class Bitset {
  readonly words: Uint32Array;
  private h = 0;

  constructor(readonly size: number) {
    this.words = new Uint32Array(Math.max(1, Math.ceil(size / 32)));
  }

  get hash(): number {
    return this.h;
  }

  has(i: number): boolean {
    return (this.words[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  set(i: number): void {
    const w = i >>> 5;
    const m = 1 << (i & 31);
    if ((this.words[w] & m) === 0) {
      this.words[w] |= m;
      this.h ^= memberHash(i);
    }
  }

  clear(i: number): void {
    const w = i >>> 5;
    const m = 1 << (i & 31);
    if ((this.words[w] & m) !== 0) {
      this.words[w] &= ~m;
      this.h ^= memberHash(i);
    }
  }

  /** True when `pool[offset .. offset + words.length)` holds the same bits. */
  equalsAt(pool: Uint32Array, offset: number): boolean {
    const words = this.words;
    for (let k = 0; k < words.length; k++) if (pool[offset + k] !== words[k]) return false;
    return true;
  }

  /** Copies the bits into `pool` at `offset` (the memo stores snapshots this way). */
  copyTo(pool: Uint32Array, offset: number): void {
    pool.set(this.words, offset);
  }
}

/** murmur3's 32-bit finaliser: a cheap bijection with good avalanche. */
export function memberHash(i: number): number {
  let x = Math.imul(i + 1, 0x9e3779b1);
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x | 0;
}
