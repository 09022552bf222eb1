/**
 * A min-heap of deadlines for the core's many short-lived timers (suspicion
 * timeouts, ping-req relays). Cancellation is lazy: a cancelled entry stays in
 * the heap and is skipped when it surfaces. Ties fire in insertion order, so
 * a run is a pure function of its inputs.
 */

export interface Timer {
  readonly at: number;
  readonly seq: number;
  cancelled: boolean;
  readonly fire: () => void;
}

export class TimerHeap {
  private heap: Timer[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  add(at: number, fire: () => void): Timer {
    const t: Timer = { at, seq: this.seq++, cancelled: false, fire };
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(t, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = t;
    return t;
  }

  cancel(t: Timer | null | undefined): void {
    if (t) t.cancelled = true;
  }

  /** Earliest live deadline, or Infinity. */
  peek(): number {
    this.skipCancelled();
    return this.heap.length > 0 ? this.heap[0]!.at : Infinity;
  }

  /** Removes and returns the earliest live timer due at or before `now`, else null. */
  popDue(now: number): Timer | null {
    this.skipCancelled();
    const h = this.heap;
    if (h.length === 0 || h[0]!.at > now) return null;
    return this.pop();
  }

  private skipCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
  }

  private pop(): Timer {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && less(h[r]!, h[l]!) ? r : l;
        if (!less(h[c]!, last)) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

function less(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
