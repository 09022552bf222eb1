/**
 * ReadIndex bookkeeping on the leader (Raft dissertation §6.4).
 *
 * A read registered while the commit index is C is safe to serve once the
 * state machine applied C and the leader proved it was still leader after
 * registration. Proof = a quorum of voters echoed a heartbeat sequence number
 * issued after the read was registered. Sequence numbers are monotonic per
 * node, so one echo confirms every read registered before it: many reads share
 * one heartbeat round.
 */
import type { NodeId } from './interface.js';

export interface PendingRead {
  /** Heartbeat sequence whose quorum echo confirms this read. */
  seq: number;
  /** Commit index at registration: the read must observe at least this. */
  index: number;
  ctx: Uint8Array;
  /** Who asked: this node, or a follower that forwarded it. */
  from: NodeId;
}

export class ReadQueue {
  private q: PendingRead[] = [];
  private head = 0;

  get size(): number {
    return this.q.length - this.head;
  }

  push(r: PendingRead): void {
    this.q.push(r);
  }

  /** Removes and returns every read with seq <= `seq`, in registration order. */
  releaseUpTo(seq: number): PendingRead[] {
    const out: PendingRead[] = [];
    while (this.head < this.q.length && this.q[this.head]!.seq <= seq) out.push(this.q[this.head++]!);
    if (this.head === this.q.length) {
      this.q = [];
      this.head = 0;
    }
    return out;
  }

  clear(): void {
    this.q = [];
    this.head = 0;
  }
}

/** A compact map key for a read context (bytes are short: at most 1 KiB on the wire). */
export function ctxKey(ctx: Uint8Array): string {
  let s = '';
  for (let i = 0; i < ctx.length; i++) s += String.fromCharCode(ctx[i]!);
  return s;
}
