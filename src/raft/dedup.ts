/**
 * Exactly-once application of proposals. A proposal can reach the log twice
 * (a forwarded proposal duplicated by the network, a client retry after
 * LEADER_CHANGED that the old leader had in fact replicated). Every entry
 * carries (origin, seq); this table remembers which of those were applied
 * and the driver skips repeats.
 *
 * The table is part of the replicated state: every node builds it from the
 * same entries in the same order, and it travels inside snapshots, so every
 * node makes the same skip decision and the state machines never diverge.
 *
 * Bounded memory: per origin, seqs within WINDOW of the highest seen are
 * remembered exactly; anything older counts as already applied (a proposal
 * that old was answered TIMEOUT long ago). Origins are per process life, so
 * old ones are dropped once unseen for ORIGIN_TTL_ENTRIES log entries.
 */
const WINDOW = 4_096;
const ORIGIN_TTL_ENTRIES = 1_000_000;

interface OriginState {
  max: number;
  recent: Set<number>;
  lastIndex: number;
}

export type DedupImage = [origin: string, max: number, recent: number[], lastIndex: number][];

export class DedupTable {
  private readonly origins = new Map<string, OriginState>();

  /** Records (origin, seq) applied at `index`; false when it was applied before (skip it). */
  admit(origin: string, seq: number, index: number): boolean {
    let o = this.origins.get(origin);
    if (!o) {
      o = { max: 0, recent: new Set(), lastIndex: index };
      this.origins.set(origin, o);
    }
    o.lastIndex = index;
    if (seq <= o.max - WINDOW || o.recent.has(seq)) return false;
    o.recent.add(seq);
    if (seq > o.max) {
      o.max = seq;
      // Seqs at or below max - WINDOW are refused by the test above whether
      // or not they are still in the set, so pruning them can wait: sweep
      // once the set holds two windows, not on every new max (a sweep walks
      // the whole set: that was O(WINDOW) per applied entry).
      if (o.recent.size > 2 * WINDOW) prune(o);
    }
    if (index % 10_000 === 0) this.expire(index);
    return true;
  }

  private expire(index: number): void {
    for (const [k, o] of this.origins) if (o.lastIndex < index - ORIGIN_TTL_ENTRIES) this.origins.delete(k);
  }

  image(): DedupImage {
    return [...this.origins].map(([k, o]) => [k, o.max, [...o.recent].filter((s) => s > o.max - WINDOW), o.lastIndex]);
  }

  static fromImage(img: DedupImage): DedupTable {
    const t = new DedupTable();
    for (const [k, max, recent, lastIndex] of img) t.origins.set(k, { max, recent: new Set(recent), lastIndex });
    return t;
  }
}

function prune(o: OriginState): void {
  const floor = o.max - WINDOW;
  for (const s of o.recent) if (s <= floor) o.recent.delete(s);
}
