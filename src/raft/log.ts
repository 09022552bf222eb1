/**
 * The in-memory Raft log since the last compaction point. Storage is
 * write-behind: the core keeps every entry it may still need (for catching up
 * followers, conflict checks, applying) here and never reads disk.
 *
 * Layout: entries hold indexes (offset, lastIndex]; `offset`/`offsetTerm`
 * describe the entry just before the first one (the compaction point or the
 * snapshot). `stable` is the last index known durable; entries above it are
 * handed to the driver in the next Ready.
 */
import { assert } from '../util/assert.js';
import type { Entry } from './interface.js';

export class RaftLog {
  private entries: Entry[] = [];
  private offset_: number;
  private offsetTerm_: number;
  /** Last index known durable on this node. */
  private stable_: number;
  /** Last index handed to the driver in a Ready not yet advanced (≥ stable). */
  private handed_: number;
  committed: number;

  constructor(offset: number, offsetTerm: number, entries: Entry[], committed: number) {
    this.offset_ = offset;
    this.offsetTerm_ = offsetTerm;
    for (const e of entries) {
      assert(e.index === offset + this.entries.length + 1, () => `boot entries not contiguous at ${e.index}`);
      this.entries.push(e);
    }
    this.stable_ = this.lastIndex();
    this.handed_ = this.stable_;
    this.committed = committed;
  }

  get offset(): number {
    return this.offset_;
  }
  get offsetTerm(): number {
    return this.offsetTerm_;
  }
  get stable(): number {
    return this.stable_;
  }
  firstIndex(): number {
    return this.offset_ + 1;
  }
  lastIndex(): number {
    return this.offset_ + this.entries.length;
  }
  lastTerm(): number {
    const n = this.entries.length;
    return n === 0 ? this.offsetTerm_ : this.entries[n - 1]!.term;
  }

  /** Term at `i`, or undefined when `i` is compacted away or beyond the end. */
  term(i: number): number | undefined {
    if (i === this.offset_) return this.offsetTerm_;
    if (i < this.offset_ || i > this.lastIndex()) return undefined;
    return this.entries[i - this.offset_ - 1]!.term;
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  entry(i: number): Entry | undefined {
    if (i <= this.offset_ || i > this.lastIndex()) return undefined;
    return this.entries[i - this.offset_ - 1];
  }

  /**
   * Entries [lo, hi] (inclusive), stopping once `maxBytes` of payload is
   * reached but always returning at least one entry when the range is non-empty.
   */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    assert(lo > this.offset_, () => `slice(${lo}) below first index ${this.firstIndex()}`);
    hi = Math.min(hi, this.lastIndex());
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= hi; i++) {
      const e = this.entries[i - this.offset_ - 1]!;
      bytes += e.data.byteLength;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Newest index <= hi whose term <= t, or undefined when even the offset's term is above t. Terms are non-decreasing, so binary search. */
  lastIndexWithTermAtMost(t: number, hi: number): number | undefined {
    hi = Math.min(hi, this.lastIndex());
    if (hi < this.offset_ || this.offsetTerm_ > t) return undefined;
    let lo = this.offset_; // term(lo) <= t holds
    while (lo < hi) {
      const mid = lo + Math.ceil((hi - lo) / 2);
      if (this.term(mid)! <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Oldest index in [lo, hi] with term === term(hi) (the start of that term's run). */
  firstIndexOfTermRun(lo: number, hi: number): number {
    const t = this.term(hi);
    assert(t !== undefined, 'firstIndexOfTermRun beyond log');
    lo = Math.max(lo, this.firstIndex());
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (this.term(mid)! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Appends at the end (leader path). */
  append(e: Entry): void {
    assert(e.index === this.lastIndex() + 1, () => `append at ${e.index} after ${this.lastIndex()}`);
    assert(e.term >= this.lastTerm(), 'append with a lower term than the last entry');
    this.entries.push(e);
  }

  /**
   * Drops every entry >= `from` (a conflicting suffix). Committed entries are
   * never dropped: the follower path only truncates above prevIndex >= commit.
   */
  truncateFrom(from: number): void {
    assert(from > this.committed, () => `truncating committed entry ${from} (commit ${this.committed})`);
    assert(from > this.offset_, 'truncating below the log offset');
    if (from > this.lastIndex()) return;
    this.entries.length = from - this.offset_ - 1;
    this.stable_ = Math.min(this.stable_, from - 1);
    this.handed_ = Math.min(this.handed_, from - 1);
  }

  commitTo(i: number): void {
    assert(i <= this.lastIndex(), () => `commit ${i} beyond last index ${this.lastIndex()}`);
    if (i > this.committed) this.committed = i;
  }

  /** Entries not yet handed to the driver for persistence. */
  unstable(): Entry[] {
    const from = this.handed_ + 1;
    if (from > this.lastIndex()) return [];
    return this.entries.slice(from - this.offset_ - 1);
  }

  hasUnstable(): boolean {
    return this.handed_ < this.lastIndex();
  }

  markHanded(last: number): void {
    this.handed_ = Math.max(this.handed_, last);
  }

  /** Everything handed out so far is durable now. */
  stableToHanded(): void {
    this.stable_ = Math.max(this.stable_, this.handed_);
  }

  /** Drops entries <= i (kept in a snapshot). */
  compactTo(i: number): void {
    if (i <= this.offset_) return;
    assert(i <= this.lastIndex() && i <= this.committed, () => `compact ${i} beyond committed ${this.committed}`);
    const t = this.term(i)!;
    this.entries = this.entries.slice(i - this.offset_);
    this.offset_ = i;
    this.offsetTerm_ = t;
    this.stable_ = Math.max(this.stable_, i);
    this.handed_ = Math.max(this.handed_, i);
  }

  /** Replaces the whole log by a snapshot point (follower installing a snapshot). */
  restore(index: number, term: number): void {
    this.entries = [];
    this.offset_ = index;
    this.offsetTerm_ = term;
    this.committed = index;
    // The snapshot itself travels in the next Ready; entries handed before it
    // are superseded by it, whatever their fate.
    this.stable_ = index;
    this.handed_ = index;
  }

  /** Payload bytes of entries in [lo, hi] with term === t. */
  bytesOfTerm(lo: number, hi: number, t: number): number {
    let n = 0;
    lo = Math.max(lo, this.firstIndex());
    hi = Math.min(hi, this.lastIndex());
    for (let i = lo; i <= hi; i++) {
      const e = this.entries[i - this.offset_ - 1]!;
      if (e.term === t) n += e.data.byteLength;
    }
    return n;
  }
}
