/**
 * The simulator's event queue: a calendar of 1 ms slots (a timing wheel) for
 * the near future plus a heap for events beyond the wheel's horizon. Pushing
 * and popping are O(1) for the millions of packet deliveries and wake-ups of
 * a large run; events in one slot run in insertion order, so a run is a pure
 * function of its seed. Time is integer milliseconds.
 *
 * Events are objects with a `fire()` method (no closure per event: a large
 * run schedules tens of millions of them).
 */

export interface SimEvent {
  fire(): void;
}

interface FarEvent {
  at: number;
  seq: number;
  ev: SimEvent;
}

const SLOTS = 1 << 16; // 65.5 s horizon
const MASK = SLOTS - 1;

export class EventQueue {
  private readonly slots: SimEvent[][] = Array.from({ length: SLOTS }, () => []);
  private far: FarEvent[] = [];
  private seq = 0;
  private count = 0;
  now = 0;

  get size(): number {
    return this.count;
  }

  /** Schedules `ev` at time `at` (rounded up to whole ms, never before now). */
  push(at: number, ev: SimEvent): void {
    const t = at <= this.now ? this.now : Math.ceil(at);
    this.count++;
    if (t - this.now < SLOTS) this.slots[t & MASK]!.push(ev);
    else heapPush(this.far, { at: t, seq: this.seq++, ev });
  }

  /** Schedules a closure (for rare events: faults, bootstrap). */
  at(at: number, run: () => void): void {
    this.push(at, { fire: run });
  }

  after(delayMs: number, run: () => void): void {
    this.push(this.now + delayMs, { fire: run });
  }

  /** Runs every event with time ≤ until, advancing `now`. */
  runUntil(until: number): void {
    while (this.now <= until) {
      // Move far events whose time entered the horizon into their slots.
      while (this.far.length > 0 && this.far[0]!.at - this.now < SLOTS) {
        const f = heapPop(this.far);
        this.slots[f.at & MASK]!.push(f.ev);
      }
      const slot = this.slots[this.now & MASK]!;
      // Events scheduled for `now` while running this slot are appended and run too.
      for (let i = 0; i < slot.length; i++) {
        this.count--;
        slot[i]!.fire();
      }
      slot.length = 0;
      if (this.count === 0) {
        this.now = until + 1;
        return;
      }
      this.now++;
    }
  }
}

function less(a: FarEvent, b: FarEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

function heapPush(h: FarEvent[], ev: FarEvent): void {
  h.push(ev);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!less(ev, h[p]!)) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = ev;
}

function heapPop(h: FarEvent[]): FarEvent {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && less(h[r]!, h[l]!) ? r : l;
      if (!less(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
  return top;
}
