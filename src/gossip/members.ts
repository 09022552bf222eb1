/**
 * The member table of one node (other members only; self lives in the core):
 * lookup by id, the round-robin probe order, and random selection for
 * ping-req helpers, gossip targets and push-pull peers.
 *
 * Probe order (SWIM's round-robin with random permutation): members are probed
 * in the order of a shuffled list, reshuffled at the end of every round, and a
 * new member is inserted at a random position. Every member is probed once
 * per round (bounded worst-case detection time), yet the n probers'
 * schedules are independent, so a dead member is first probed after about one
 * probe interval on average.
 */
import type { Rng } from '../util/rng.js';
import { assert } from '../util/assert.js';
import type { Addr, MemberRecord, MemberState, NodeId, NodeMeta, Role } from './interface.js';
import type { Suspicion } from './suspicion.js';
import type { Timer } from './timers.js';

export interface Member {
  readonly id: NodeId;
  addr: Addr;
  clusterAddr: Addr;
  role: Role;
  meta: NodeMeta;
  state: MemberState;
  inc: number;
  stateChangeMs: number;
  suspicion: Suspicion | null;
  suspicionTimer: Timer | null;
  /** Position in MemberTable.all (−1 once removed). */
  idx: number;
}

export function toRecord(m: Member): MemberRecord {
  return {
    id: m.id,
    addr: m.addr,
    clusterAddr: m.clusterAddr,
    role: m.role,
    meta: m.meta,
    state: m.state,
    incarnation: m.inc,
    stateChangeMs: m.stateChangeMs,
  };
}

export class MemberTable {
  private readonly byId = new Map<NodeId, Member>();
  /** Every known member (random selection); order is arbitrary. */
  readonly all: Member[] = [];
  private probeList: Member[] = [];
  private probeIdx = 0;
  /** Members in state alive or suspect. */
  private nActive = 0;
  /** Members in state dead (not left). */
  private nDead = 0;

  constructor(private readonly rng: Rng) {}

  get size(): number {
    return this.all.length;
  }

  get active(): number {
    return this.nActive;
  }

  get dead(): number {
    return this.nDead;
  }

  get(id: NodeId): Member | undefined {
    return this.byId.get(id);
  }

  add(m: Member): void {
    assert(!this.byId.has(m.id), () => `member ${m.id} added twice`);
    this.byId.set(m.id, m);
    m.idx = this.all.length;
    this.all.push(m);
    this.count(m.state, +1);
    // Random position in the probe list: append, then swap with a random slot.
    const pl = this.probeList;
    pl.push(m);
    const j = this.rng.int(pl.length);
    const last = pl.length - 1;
    if (j !== last) {
      const tmp = pl[j]!;
      pl[j] = pl[last]!;
      pl[last] = tmp;
    }
  }

  /** Records a state change and keeps the counters right. */
  setState(m: Member, state: MemberState, nowMs: number): void {
    if (m.state === state) return;
    this.count(m.state, -1);
    this.count(state, +1);
    m.state = state;
    m.stateChangeMs = nowMs;
  }

  private count(s: MemberState, d: number): void {
    if (s === 'alive' || s === 'suspect') this.nActive += d;
    else if (s === 'dead') this.nDead += d;
  }

  /** Forgets a member (reaped tombstone). Its probe-list slot is dropped at the next reshuffle. */
  remove(m: Member): void {
    if (m.idx < 0) return;
    this.byId.delete(m.id);
    const last = this.all.pop()!;
    if (last !== m) {
      this.all[m.idx] = last;
      last.idx = m.idx;
    }
    m.idx = -1;
    this.count(m.state, -1);
  }

  /**
   * The next member to probe: alive or suspect, in round-robin order. At the
   * end of a round the list is rebuilt without removed members, `reap` is
   * offered every tombstone, and the rest is reshuffled.
   */
  nextProbeTarget(reap: (m: Member) => boolean): Member | null {
    for (let checked = 0; checked <= this.probeList.length; checked++) {
      if (this.probeIdx >= this.probeList.length) this.reshuffle(reap);
      if (this.probeList.length === 0) return null;
      const m = this.probeList[this.probeIdx++]!;
      if (m.idx >= 0 && (m.state === 'alive' || m.state === 'suspect')) return m;
    }
    return null;
  }

  private reshuffle(reap: (m: Member) => boolean): void {
    for (const m of this.all.slice()) {
      if ((m.state === 'dead' || m.state === 'left') && reap(m)) this.remove(m);
    }
    this.probeList = this.rng.shuffle(this.all.slice());
    this.probeIdx = 0;
  }

  /**
   * Up to k distinct members satisfying `accept`, chosen uniformly. Rejection
   * sampling first (cheap when most members qualify, the common case), then a
   * scan when few do.
   */
  randomMembers(k: number, accept: (m: Member) => boolean): Member[] {
    const out: Member[] = [];
    const n = this.all.length;
    if (k <= 0 || n === 0) return out;
    const tries = 4 * k + 8;
    for (let t = 0; t < tries && out.length < k; t++) {
      const m = this.all[this.rng.int(n)]!;
      if (accept(m) && !out.includes(m)) out.push(m);
    }
    if (out.length < k) {
      const pool = this.all.filter((m) => accept(m) && !out.includes(m));
      while (out.length < k && pool.length > 0) {
        const j = this.rng.int(pool.length);
        out.push(pool[j]!);
        pool[j] = pool[pool.length - 1]!;
        pool.pop();
      }
    }
    return out;
  }

  /** Every member (for push-pull and snapshots). */
  values(): IterableIterator<Member> {
    return this.byId.values();
  }
}
