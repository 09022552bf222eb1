/**
 * Durable storage of one simulated node: what survives a crash. A Ready is
 * written here only when the simulated fsync completes; a crash before that
 * loses it, exactly like unsynced writes.
 */
import { assert } from '../../../src/util/assert.js';
import type { ConfState, Entry, HardState, RaftBootState, Ready, Snapshot } from '../../../src/raft/interface.js';

export class MemoryStorage {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  snapshot: Snapshot | null = null;
  /** Contiguous entries after the snapshot index. */
  entries: Entry[] = [];

  constructor(readonly bootstrapConf: ConfState) {}

  private base(): number {
    return this.snapshot?.meta.index ?? 0;
  }

  lastIndex(): number {
    return this.base() + this.entries.length;
  }

  termAt(i: number): number | undefined {
    const b = this.base();
    if (i === b) return this.snapshot?.meta.term ?? 0;
    if (i < b || i > this.lastIndex()) return undefined;
    return this.entries[i - b - 1]!.term;
  }

  persist(rd: Ready): void {
    if (rd.snapshot !== null) {
      this.snapshot = rd.snapshot;
      this.entries = [];
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      const b = this.base();
      assert(first > b && first <= this.lastIndex() + 1, () => `persist: entries from ${first} do not attach to ${b}..${this.lastIndex()}`);
      this.entries.length = first - b - 1; // discard the conflicting suffix
      for (const e of rd.entries) this.entries.push(e);
    }
    if (rd.hardState !== null) this.hardState = { ...rd.hardState };
  }

  /** The driver's own snapshot (after compact()). */
  saveSnapshot(snap: Snapshot): void {
    const keepFrom = snap.meta.index + 1;
    const b = this.base();
    this.entries = keepFrom - b - 1 >= 0 ? this.entries.slice(keepFrom - b - 1) : [];
    this.snapshot = snap;
  }

  boot(): RaftBootState {
    return {
      hardState: { ...this.hardState },
      snapshot: this.snapshot,
      entries: this.entries.slice(),
      applied: this.snapshot?.meta.index ?? 0,
      conf: this.snapshot?.meta.conf ?? this.bootstrapConf,
    };
  }
}
