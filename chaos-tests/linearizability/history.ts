import { HistoryError } from './errors.js';
import type { Operation } from './interface.js';

/**
 * The history as one doubly linked list of call and return events in time
 * order, with a head and a tail sentinel, kept in typed arrays.
 *
 * The search "lifts" an operation out of the list when it linearizes it (both
 * its call and its return disappear) and "unlifts" it when it backtracks.
 * Unlifting restores the exact links lift removed, so it must happen in the
 * reverse order of lifting — which a depth-first search gives for free
 * (dancing links).
 */
export class EventList {
  static readonly HEAD = 0;
  readonly tail: number;
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** Node -> operation index. */
  readonly opOf: Int32Array;
  /** Call node -> its return node; -1 on return nodes and sentinels. */
  readonly matchOf: Int32Array;

  constructor(ops: readonly Operation<unknown, unknown>[]) {
    validate(ops);
    const n = ops.length;
    // Events sorted by time. On equal times calls go first: the two operations
    // then count as concurrent, the lenient reading of an ambiguous order.
    const order = new Int32Array(2 * n);
    for (let i = 0; i < 2 * n; i++) order[i] = i; // even = call of op i/2, odd = its return
    const time = (e: number) => (e & 1 ? ops[e >> 1].ret : ops[e >> 1].call);
    order.sort((a, b) => time(a) - time(b) || (a & 1) - (b & 1) || a - b);

    const size = 2 * n + 2;
    this.tail = size - 1;
    this.next = new Int32Array(size);
    this.prev = new Int32Array(size);
    this.opOf = new Int32Array(size).fill(-1);
    this.matchOf = new Int32Array(size).fill(-1);
    const nodeOfEvent = new Int32Array(2 * n);
    for (let k = 0; k < 2 * n; k++) {
      const node = k + 1;
      nodeOfEvent[order[k]] = node;
      this.opOf[node] = order[k] >> 1;
    }
    for (let i = 0; i < n; i++) this.matchOf[nodeOfEvent[2 * i]] = nodeOfEvent[2 * i + 1];
    for (let node = 0; node < size; node++) {
      this.next[node] = node + 1;
      this.prev[node] = node - 1;
    }
  }

  isCall(node: number): boolean {
    return this.matchOf[node] >= 0;
  }

  /** Removes a call node and its return node from the list. */
  lift(call: number): void {
    const { next, prev } = this;
    next[prev[call]] = next[call];
    prev[next[call]] = prev[call];
    const ret = this.matchOf[call];
    next[prev[ret]] = next[ret];
    prev[next[ret]] = prev[ret];
  }

  /** Puts back what the matching lift() removed (return first: reverse order). */
  unlift(call: number): void {
    const { next, prev } = this;
    const ret = this.matchOf[call];
    next[prev[ret]] = ret;
    prev[next[ret]] = ret;
    next[prev[call]] = call;
    prev[next[call]] = call;
  }
}

function validate(ops: readonly Operation<unknown, unknown>[]): void {
  for (let i = 0; i < ops.length; i++) {
    const { call, ret } = ops[i];
    if (!Number.isFinite(call)) throw new HistoryError(`call time must be a finite number, got ${call}`, i);
    if (Number.isNaN(ret) || ret === -Infinity) throw new HistoryError(`return time must be a number or Infinity, got ${ret}`, i);
    if (ret < call) throw new HistoryError(`returns (${ret}) before it is called (${call})`, i);
  }
}
