/**
 * Seeded pseudo-random numbers for the deterministic cores and simulators.
 *
 * The cores (raft, gossip, scheduler, orchestrator decisions) never call
 * Math.random: they take an Rng from outside, so a simulation is a pure
 * function of its seed and any failure replays exactly. sfc32 is small, fast,
 * passes PractRand far enough for simulation, and its whole state is four
 * 32-bit words, so forking a per-node stream is cheap.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform integer in [lo, hi] inclusive. */
  range(lo: number, hi: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** A new independent stream derived from this one (e.g. one per simulated node). */
  fork(): Rng;
  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(a: T[]): T[];
  pick<T>(a: readonly T[]): T;
}

export function seededRng(seed: number | bigint): Rng {
  // Expand the seed with splitmix32 so nearby seeds give unrelated streams.
  let s = Number(BigInt.asUintN(32, BigInt(seed))) >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  return sfc32(splitmix(), splitmix(), splitmix(), splitmix());
}

function sfc32(a: number, b: number, c: number, d: number): Rng {
  const nextU32 = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t;
  };
  // Warm up: the first outputs of sfc32 are weakly mixed.
  for (let i = 0; i < 12; i++) nextU32();
  const rng: Rng = {
    next: () => nextU32() / 4294967296,
    int: (n) => Math.floor((nextU32() / 4294967296) * n),
    range: (lo, hi) => lo + Math.floor((nextU32() / 4294967296) * (hi - lo + 1)),
    chance: (p) => p > 0 && nextU32() / 4294967296 < p,
    fork: () => sfc32(nextU32(), nextU32(), nextU32(), nextU32()),
    shuffle: (arr) => {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = Math.floor((nextU32() / 4294967296) * (i + 1));
        const tmp = arr[i]!;
        arr[i] = arr[j]!;
        arr[j] = tmp;
      }
      return arr;
    },
    pick: (arr) => {
      if (arr.length === 0) throw new RangeError('pick from empty array');
      return arr[Math.floor((nextU32() / 4294967296) * arr.length)]!;
    },
  };
  return rng;
}

/** A non-deterministic Rng for production drivers (seeded from crypto). */
export function systemRng(): Rng {
  const buf = new Uint32Array(2);
  globalThis.crypto.getRandomValues(buf);
  return seededRng((BigInt(buf[0]!) << 32n) | BigInt(buf[1]!));
}
