/**
 * The leader's view of one follower's log (etcd-io/raft's design):
 * - probe: we do not know where the follower's log matches ours; send one
 *   append at a time and wait for its answer (or a heartbeat response) before
 *   the next, walking `next` back on rejections.
 * - replicate: the follower is in sync; pipeline appends optimistically,
 *   bounded by the in-flight window.
 * - snapshot: the entries it needs are compacted away; stream a snapshot in
 *   chunks, one chunk in flight at a time.
 */
import { assert } from '../util/assert.js';
import type { Snapshot } from './interface.js';

/** Sliding window of in-flight appends: the last index and payload bytes of each. */
export class Inflights {
  private idx: number[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bytes_ = 0;
  constructor(
    private readonly maxMsgs: number,
    private readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.idx.length - this.head;
  }
  get bytes(): number {
    return this.bytes_;
  }
  full(): boolean {
    return this.count >= this.maxMsgs || (this.maxBytes > 0 && this.bytes_ >= this.maxBytes);
  }
  add(lastIndex: number, bytes: number): void {
    const n = this.idx.length;
    assert(n === this.head || this.idx[n - 1]! < lastIndex, 'inflights must be added in index order');
    this.idx.push(lastIndex);
    this.sizes.push(bytes);
    this.bytes_ += bytes;
  }
  /** Frees every message whose last index <= i (acknowledged). */
  freeLE(i: number): void {
    while (this.head < this.idx.length && this.idx[this.head]! <= i) {
      this.bytes_ -= this.sizes[this.head]!;
      this.head++;
    }
    this.compactIfSparse();
  }
  freeFirst(): void {
    if (this.head < this.idx.length) {
      this.bytes_ -= this.sizes[this.head]!;
      this.head++;
    }
    this.compactIfSparse();
  }
  reset(): void {
    this.idx = [];
    this.sizes = [];
    this.head = 0;
    this.bytes_ = 0;
  }
  private compactIfSparse(): void {
    if (this.head === this.idx.length) {
      this.reset();
    } else if (this.head > 64 && this.head * 2 > this.idx.length) {
      this.idx = this.idx.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to match the leader's log (durable on the follower). */
  match = 0;
  /** Next index to send. Invariant: match < next. */
  next: number;
  state: ProgressState = 'probe';
  /** probe: an append is outstanding; snapshot: a chunk is outstanding. */
  paused = false;
  /** snapshot: index of the snapshot being streamed. */
  pendingSnapshot = 0;
  /**
   * snapshot: the snapshot being streamed. Held here so that compacting again
   * mid-transfer does not restart a slow follower's transfer from scratch
   * (which, with frequent compaction, could starve it forever).
   */
  snap: Snapshot | null = null;
  /** snapshot: bytes [0, snapOffset) acknowledged by the follower. */
  snapOffset = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = true;
  /** Highest commit index already sent to it (in an append or heartbeat). */
  sentCommit = 0;
  /** Highest heartbeat sequence it echoed (ReadIndex confirmation). */
  ackSeq = 0;
  /** Leader tick at which that heartbeat was sent (lease reads). */
  ackTick = -Number.MAX_SAFE_INTEGER;
  readonly inflights: Inflights;

  constructor(next: number, maxInflightMsgs: number, maxInflightBytes: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    // Whatever was in flight may be lost: only what it acknowledged is certain.
    this.sentCommit = Math.min(this.sentCommit, this.match);
    this.state = state;
    this.paused = false;
    this.pendingSnapshot = 0;
    this.snap = null;
    this.snapOffset = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, the follower holds at least the snapshot: probe from there.
    const floor = this.state === 'snapshot' ? this.pendingSnapshot : 0;
    this.resetState('probe');
    this.next = Math.max(this.match + 1, floor + 1);
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snap: Snapshot): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snap.meta.index;
    this.snap = snap;
  }

  /** An acknowledgement up to `n`; false when it is old news (reordered or duplicated). */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) return false;
    this.match = n;
    this.next = Math.max(this.next, n + 1);
    // The probe was answered. (In snapshot state `paused` tracks the chunk
    // stream, which an append ack says nothing about.)
    if (this.state === 'probe') this.paused = false;
    return true;
  }

  /**
   * A rejection of the append whose prevIndex was `rejected`, with the leader's
   * computed retry point `hintNext`. False when the rejection is stale.
   */
  maybeDecrTo(rejected: number, hintNext: number): boolean {
    if (this.state === 'replicate') {
      if (rejected < this.match) return false;
      // The pipeline is broken: fall back to probing from the hint.
      this.becomeProbe();
    } else if (this.next - 1 !== rejected) {
      // In probe state only one append is outstanding, at next - 1.
      return false;
    }
    let next = Math.min(rejected, hintNext);
    if (rejected > this.match) {
      next = Math.max(this.match + 1, next);
    } else {
      // The follower denies holding an entry it acknowledged: it lost its log
      // tail (the driver cuts a damaged tail on boot and refuses votes until
      // it is re-fetched). Start over below it. Lowering match is always
      // safe: it only delays commits and re-sends entries; at worst this was
      // a reordered old rejection and the follower acks them again.
      next = Math.max(1, next);
      this.match = Math.min(this.match, next - 1);
    }
    this.next = next;
    this.paused = false;
    this.sentCommit = Math.min(this.sentCommit, this.match);
    return true;
  }

  /** Records an append of entries ending at `lastIndex` (count > 0). */
  sentEntries(lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      this.next = lastIndex + 1;
      this.inflights.add(lastIndex, bytes);
    } else {
      this.paused = true;
    }
  }

  /** Whether telling it `commit` could move its commit index (it can only use what it is known to hold). */
  canBumpCommit(commit: number): boolean {
    return this.sentCommit < Math.min(commit, this.next - 1);
  }

  /** Whether an append may be sent now. */
  canSend(): boolean {
    switch (this.state) {
      case 'probe':
        return !this.paused;
      case 'replicate':
        return !this.inflights.full();
      case 'snapshot':
        return false;
    }
  }
}
