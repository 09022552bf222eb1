import type { Bitset } from './bitset.js';

/**
 * The set of search configurations already explored: (linearized-set, state)
 * pairs. Reaching a configuration twice means the subtree below it was (or is
 * being) explored already, which is what makes Wing–Gong search practical
 * (Lowe's improvement).
 *
 * Open hashing by hand over typed arrays: an entry is its 32-bit hash, its
 * state id, a chain link and a snapshot of the bitset's words in one shared
 * pool. A hit needs equal hash, equal state id and equal words, so hash
 * collisions can never prune a configuration that was not seen.
 */
export class Memo {
  private heads: Int32Array; // bucket -> entry index + 1 (0 = empty)
  private hashes: Int32Array;
  private stateIds: Int32Array;
  private nexts: Int32Array; // chain: entry index + 1 (0 = end)
  private pool: Uint32Array;
  private count = 0;

  constructor(
    /** Words per bitset snapshot. */
    private readonly width: number,
    initialCapacity = 1024,
  ) {
    const cap = Math.max(16, 1 << Math.ceil(Math.log2(initialCapacity)));
    this.heads = new Int32Array(cap);
    this.hashes = new Int32Array(cap);
    this.stateIds = new Int32Array(cap);
    this.nexts = new Int32Array(cap);
    this.pool = new Uint32Array(cap * width);
  }

  get size(): number {
    return this.count;
  }

  /**
   * Records (bits, stateId) and returns true, or returns false when it was
   * already recorded.
   */
  add(bits: Bitset, stateId: number): boolean {
    const h = mix(bits.hash, stateId);
    const mask = this.heads.length - 1;
    const width = this.width;
    for (let e = this.heads[h & mask]; e !== 0; e = this.nexts[e - 1]) {
      const i = e - 1;
      if (this.hashes[i] === h && this.stateIds[i] === stateId && bits.equalsAt(this.pool, i * width)) {
        return false;
      }
    }
    if (this.count === this.hashes.length) this.grow();
    const i = this.count++;
    this.hashes[i] = h;
    this.stateIds[i] = stateId;
    bits.copyTo(this.pool, i * width);
    const b = h & (this.heads.length - 1);
    this.nexts[i] = this.heads[b];
    this.heads[b] = i + 1;
    return true;
  }

  /** Doubles every array and rebuilds the buckets (load factor ≤ 1). */
  private grow(): void {
    const cap = this.hashes.length * 2;
    const hashes = new Int32Array(cap);
    hashes.set(this.hashes);
    const stateIds = new Int32Array(cap);
    stateIds.set(this.stateIds);
    const pool = new Uint32Array(cap * this.width);
    pool.set(this.pool);
    this.hashes = hashes;
    this.stateIds = stateIds;
    this.pool = pool;
    this.nexts = new Int32Array(cap);
    this.heads = new Int32Array(cap);
    const mask = cap - 1;
    for (let i = 0; i < this.count; i++) {
      const b = hashes[i] & mask;
      this.nexts[i] = this.heads[b];
      this.heads[b] = i + 1;
    }
  }
}

function mix(bitsHash: number, stateId: number): number {
  let x = bitsHash ^ Math.imul(stateId + 1, 0x9e3779b1);
  x ^= x >>> 15;
  x = Math.imul(x, 0x2c1b3c6d);
  x ^= x >>> 12;
  return x | 0;
}
