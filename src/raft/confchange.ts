/**
 * Membership changes: single-server changes, one at a time.
 *
 * Safety argument (Ongaro's dissertation §4.1–4.2, with its 2015 fix):
 * 1. Every node uses the LATEST configuration in its log, committed or not,
 *    and falls back to the previous one if that entry is truncated. So there
 *    is no window where a node that already stores C_new still counts votes or
 *    commits with C_old.
 * 2. A change adds or removes exactly one voter. Any majority of C_old and any
 *    majority of C_new = C_old ± {x} share at least one voter, so a leader of
 *    C_old and a leader of C_new can never be elected in the same term by
 *    disjoint quorums, and an entry committed under one is seen by every
 *    quorum of the other.
 * 3. The leader proposes a change only when no configuration entry is
 *    uncommitted in its log (so at most two adjacent configurations, C and
 *    C ± {x}, are ever in use at once), and only after it has committed an
 *    entry of its own term (the noop appended on election). Without the latter,
 *    a new leader could append C2 while an uncommitted C1 of an earlier term,
 *    differing from C2 by two servers overall, is still alive in other logs:
 *    the bug found in the original single-server algorithm.
 * 4. Learners never vote and are never counted in a quorum, so adding,
 *    removing or promoting them (promotion = adding a voter) is covered by 2.
 *
 * A leader that removes (or demotes) itself keeps leading without counting
 * itself until the change commits, then steps down (§4.2.2).
 */
import type { ConfChange, ConfState, NodeId } from './interface.js';

const VERSION = 1;
const CODES = { addVoter: 1, addLearner: 2, removeNode: 3 } as const;
const BY_CODE: Record<number, ConfChange['type']> = { 1: 'addVoter', 2: 'addLearner', 3: 'removeNode' };

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Layout: version u8, type u8, node length u16 BE, node utf-8, ctx (rest). */
export function encodeConfChange(c: ConfChange): Uint8Array {
  const node = enc.encode(c.node);
  const ctx = c.ctx ?? new Uint8Array(0);
  const out = new Uint8Array(4 + node.length + ctx.length);
  out[0] = VERSION;
  out[1] = CODES[c.type];
  out[2] = node.length >>> 8;
  out[3] = node.length & 0xff;
  out.set(node, 4);
  out.set(ctx, 4 + node.length);
  return out;
}

/** Null when the bytes are not a conf change we understand (the entry then changes nothing). */
export function decodeConfChange(b: Uint8Array): ConfChange | null {
  if (b.length < 4 || b[0] !== VERSION) return null;
  const type = BY_CODE[b[1]!];
  const len = (b[2]! << 8) | b[3]!;
  if (type === undefined || len === 0 || 4 + len > b.length) return null;
  let node: string;
  try {
    node = dec.decode(b.subarray(4, 4 + len));
  } catch {
    return null;
  }
  const ctx = b.slice(4 + len);
  return ctx.length > 0 ? { type, node, ctx } : { type, node };
}

/** A mutable membership: the core's working copy of ConfState. */
export class Membership {
  readonly voters = new Set<NodeId>();
  readonly learners = new Set<NodeId>();

  constructor(conf: ConfState) {
    for (const v of conf.voters) this.voters.add(v);
    for (const l of conf.learners) if (!this.voters.has(l)) this.learners.add(l);
  }

  /** Sets one node's role outright, so replaying a change is harmless. */
  apply(c: ConfChange): void {
    switch (c.type) {
      case 'addVoter':
        this.learners.delete(c.node);
        this.voters.add(c.node);
        break;
      case 'addLearner':
        this.voters.delete(c.node);
        this.learners.add(c.node);
        break;
      case 'removeNode':
        this.voters.delete(c.node);
        this.learners.delete(c.node);
        break;
    }
  }

  isMember(id: NodeId): boolean {
    return this.voters.has(id) || this.learners.has(id);
  }

  toConfState(): ConfState {
    return { voters: [...this.voters].sort(), learners: [...this.learners].sort() };
  }
}

/** Why `c` makes no sense against `m`, or null when it is a real change. */
export function invalidReason(m: Membership, c: ConfChange): string | null {
  if (c.node.length === 0 || c.node.length > 256) return 'node id must be 1..256 characters';
  switch (c.type) {
    case 'addVoter':
      return m.voters.has(c.node) ? `${c.node} is already a voter` : null;
    case 'addLearner':
      if (m.learners.has(c.node)) return `${c.node} is already a learner`;
      if (m.voters.has(c.node) && m.voters.size === 1) return 'cannot demote the last voter';
      return null;
    case 'removeNode':
      if (!m.isMember(c.node)) return `${c.node} is not a member`;
      if (m.voters.has(c.node) && m.voters.size === 1) return 'cannot remove the last voter';
      return null;
  }
}
