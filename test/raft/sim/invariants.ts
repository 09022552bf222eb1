/**
 * Raft's safety properties (Figure 3 of the paper), checked as the
 * simulation runs. Each check throws SafetyViolation naming the property.
 *
 * - Election safety: at most one leader per term.
 * - Log matching: entries with the same index and term are identical and
 *   have identical predecessors (checked on every persisted entry: by
 *   induction this makes whole prefixes identical).
 * - Leader completeness: a new leader's log holds every entry that a leader
 *   of an earlier term declared committed.
 * - State-machine safety: no two nodes apply different entries at an index,
 *   and each node applies indexes in order without gaps.
 */
import type { Entry, NodeId, Snapshot } from '../../../src/raft/interface.js';
import type { RaftCore } from '../../../src/raft/core.js';

export class SafetyViolation extends Error {
  override readonly name = 'SafetyViolation';
}

interface Seen {
  key: string;
  prevTerm: number;
}

const keys = new WeakMap<Entry, string>();
function entryKey(e: Entry): string {
  let k = keys.get(e);
  if (k === undefined) {
    k = `${e.type}:`;
    for (let i = 0; i < e.data.length; i++) k += String.fromCharCode(e.data[i]!);
    keys.set(e, k);
  }
  return k;
}

export class Invariants {
  private readonly leaderOf = new Map<number, NodeId>();
  private readonly logEntries = new Map<string, Seen>();
  /** index -> term and identity of the entry applied there. */
  private readonly appliedAt = new Map<number, { term: number; key: string }>();
  maxApplied = 0;
  checks = 0;

  /** Election safety; returns true when `id` just became leader of a new term. */
  checkRole(id: NodeId, core: RaftCore): boolean {
    this.checks++;
    const s = core.status;
    if (s.role !== 'leader') return false;
    const prev = this.leaderOf.get(s.term);
    if (prev === undefined) {
      this.leaderOf.set(s.term, id);
      this.checkLeaderCompleteness(id, core);
      this.noteCommit(s.term, s.commit, core);
      return true;
    }
    if (prev !== id) throw new SafetyViolation(`election safety: ${prev} and ${id} both leaders of term ${s.term}`);
    this.noteCommit(s.term, s.commit, core);
    return false;
  }

  /** Highest commit index any leader of each term reached. */
  private readonly commitOfTerm = new Map<number, number>();

  /** index -> entry a leader declared committed there (first time seen). */
  private readonly committedAt = new Map<number, { term: number; key: string }>();
  private maxCommitted = 0;

  private noteCommit(term: number, commit: number, core: RaftCore): void {
    if (commit > (this.commitOfTerm.get(term) ?? 0)) this.commitOfTerm.set(term, commit);
    for (let i = this.maxCommitted + 1; i <= commit; i++) {
      const e = core.entryAt(i);
      if (e !== undefined) this.committedAt.set(i, { term: e.term, key: entryKey(e) });
    }
    if (commit > this.maxCommitted) this.maxCommitted = commit;
  }

  /**
   * Every entry committed in an EARLIER term must be in the new leader's log.
   * (A leader of an old term can still be elected late — e.g. it was paused
   * holding the votes — and need not hold what later terms committed.)
   */
  private checkLeaderCompleteness(id: NodeId, core: RaftCore): void {
    const s = core.status;
    let bound = 0;
    for (const [term, commit] of this.commitOfTerm) if (term < s.term && commit > bound) bound = commit;
    if (s.lastIndex < bound) {
      throw new SafetyViolation(`leader completeness: ${id} leads term ${s.term} with last index ${s.lastIndex} < ${bound} committed in earlier terms`);
    }
    for (let i = Math.max(1, s.firstIndex); i <= bound; i++) {
      const a = this.appliedAt.get(i) ?? this.committedAt.get(i);
      if (a === undefined) continue;
      const e = core.entryAt(i);
      if (e === undefined) continue;
      if (e.term !== a.term || entryKey(e) !== a.key) {
        throw new SafetyViolation(`leader completeness: ${id} (term ${s.term}) has term ${e.term} at ${i}, applied elsewhere with term ${a.term}`);
      }
    }
  }

  /** Log matching, on entries a node just made durable; prevTermOf gives its durable term before them. */
  onPersist(id: NodeId, entries: Entry[], prevTermOfFirst: number | undefined): void {
    for (let k = 0; k < entries.length; k++) {
      this.checks++;
      const e = entries[k]!;
      const prevTerm = k > 0 ? entries[k - 1]!.term : prevTermOfFirst;
      if (prevTerm === undefined) throw new SafetyViolation(`${id} persisted ${e.index} without a predecessor`);
      const id2 = `${e.index}:${e.term}`;
      const key = entryKey(e);
      const seen = this.logEntries.get(id2);
      if (seen === undefined) this.logEntries.set(id2, { key, prevTerm });
      else if (seen.key !== key || seen.prevTerm !== prevTerm) {
        throw new SafetyViolation(`log matching: ${id} holds a different entry (or predecessor) at index ${e.index} term ${e.term}`);
      }
    }
  }

  /** State-machine safety. `lastApplied` is the node's applied index before this entry. */
  onApply(id: NodeId, e: Entry, lastApplied: number): void {
    this.checks++;
    if (e.index !== lastApplied + 1) throw new SafetyViolation(`${id} applied ${e.index} after ${lastApplied}: gap or repeat`);
    const key = entryKey(e);
    const c = this.committedAt.get(e.index);
    if (c !== undefined && (c.term !== e.term || c.key !== key)) {
      throw new SafetyViolation(`state-machine safety: ${id} applied term ${e.term} at ${e.index}, a leader committed term ${c.term} there`);
    }
    const a = this.appliedAt.get(e.index);
    if (a === undefined) {
      this.appliedAt.set(e.index, { term: e.term, key });
      if (e.index > this.maxApplied) this.maxApplied = e.index;
    } else if (a.term !== e.term || a.key !== key) {
      throw new SafetyViolation(`state-machine safety: ${id} applied term ${e.term} at ${e.index}, others term ${a.term}`);
    }
  }

  /** A snapshot installed from the leader must agree with what was applied at its index. */
  onSnapshot(id: NodeId, snap: Snapshot, lastApplied: number): void {
    this.checks++;
    const a = this.appliedAt.get(snap.meta.index);
    if (a !== undefined && a.term !== snap.meta.term) {
      throw new SafetyViolation(`state-machine safety: ${id} installed snapshot ${snap.meta.index}/${snap.meta.term}, applied term ${a.term} there`);
    }
    if (snap.meta.index < lastApplied) throw new SafetyViolation(`${id} installed snapshot ${snap.meta.index} behind applied ${lastApplied}`);
    if (snap.meta.index > this.maxApplied) this.maxApplied = snap.meta.index;
  }

  leadersSeen(): number {
    return this.leaderOf.size;
  }
}
