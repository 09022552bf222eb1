/**
 * Duplicate suppression for user broadcasts, keyed by (origin, epoch, seq).
 *
 * Per origin life (origin + epoch) we keep the highest seq seen and the set of
 * seqs within `window` below it; anything older than the window is treated as
 * already delivered. Origin lives are kept in insertion (LRU) order and the
 * least recently active ones are forgotten beyond `maxOrigins`, so memory is
 * bounded whatever peers send.
 */

interface OriginWindow {
  high: number;
  seen: Set<number>;
}

export class Dedup {
  private readonly origins = new Map<string, OriginWindow>();

  constructor(
    private readonly window: number,
    private readonly maxOrigins = 8192,
  ) {}

  /** True the first time (origin, epoch, seq) is offered within the window; false for a duplicate or a too-old seq. */
  accept(origin: string, epoch: number, seq: number): boolean {
    const key = `${origin}\u0000${epoch}`;
    let w = this.origins.get(key);
    if (w) {
      // Touch: move to the LRU tail.
      this.origins.delete(key);
      this.origins.set(key, w);
    } else {
      w = { high: 0, seen: new Set() };
      this.origins.set(key, w);
      if (this.origins.size > this.maxOrigins) {
        const oldest = this.origins.keys().next().value as string;
        this.origins.delete(oldest);
      }
    }
    if (seq <= w.high - this.window) return false;
    if (w.seen.has(seq)) return false;
    w.seen.add(seq);
    if (seq > w.high) {
      w.high = seq;
      if (w.seen.size > 2 * this.window) {
        const floor = w.high - this.window;
        for (const s of w.seen) if (s <= floor) w.seen.delete(s);
      }
    }
    return true;
  }

  get size(): number {
    return this.origins.size;
  }
}
