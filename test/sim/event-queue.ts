/**
 * The one event queue of every simulator here (raft, gossip, orchestrator,
 * lease, whole cluster) and of the simulated timers (timers.ts).
 *
 * A calendar of 1 ms slots (a timing wheel) holds the near future and one
 * binary heap (the scheduler's, src/scheduler/heap.ts) holds events beyond
 * the wheel's horizon: pushing and popping are O(1) for the millions of
 * message deliveries and wake-ups of a large run. Events due at the same time run in the order they were pushed, so a
 * run is a pure function of its seed. Time is integer milliseconds (or
 * whatever integer unit a simulator chooses).
 *
 * Events are objects with a `fire()` method, so a hot path can reuse one
 * object per kind of event instead of allocating a closure per event.
 */

import { Heap } from '../../src/scheduler/heap.js';

export interface SimEvent {
  fire(): void;
}

interface FarEvent {
  at: number;
  seq: number;
  ev: SimEvent;
}

const SLOTS = 1 << 13; // 8.2 s horizon at 1 ms: a queue is made per seed, and a larger wheel cost more to make than the heap saves
const MASK = SLOTS - 1;

export class EventQueue {
  /** Slots are made on first use: a simulator that runs 10,000 seeds builds 10,000 queues. */
  private readonly slots: (SimEvent[] | undefined)[] = new Array<SimEvent[] | undefined>(SLOTS);
  /** Events beyond the wheel's horizon, earliest first (ties in push order). */
  private readonly far = new Heap<FarEvent>([], (a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  private seq = 0;
  private count = 0;
  /** Index of the next event to run in the current slot (the slot of `now`). */
  private cursor = 0;
  /** The current time: the time of the event running, or of the last one run. */
  now: number;

  constructor(start = 0) {
    this.now = start;
  }

  get size(): number {
    return this.count;
  }

  /** Schedules `ev` at time `at` (rounded up to a whole unit; never before now: a past time means now). */
  push(at: number, ev: SimEvent): void {
    const t = at <= this.now ? this.now : Math.ceil(at);
    this.count++;
    if (t - this.now < SLOTS) {
      const i = t & MASK;
      (this.slots[i] ??= []).push(ev);
    } else this.far.push({ at: t, seq: this.seq++, ev });
  }

  /** Schedules a closure at `at`. */
  at(at: number, run: () => void): void {
    this.push(at, { fire: run });
  }

  /** Schedules a closure `delay` after now. */
  after(delay: number, run: () => void): void {
    this.push(this.now + delay, { fire: run });
  }

  /**
   * Takes the next event due at or before `until`, advancing `now` to its
   * time; undefined when none is (now is then at most `until`).
   */
  next(until = Infinity): SimEvent | undefined {
    while (this.count > 0) {
      const slot = this.slots[this.now & MASK];
      if (slot !== undefined && this.cursor < slot.length) {
        this.count--;
        return slot[this.cursor++];
      }
      if (slot !== undefined) slot.length = 0;
      this.cursor = 0;
      if (this.count === 0) return undefined;
      // Only far events left: jump to the first of them instead of walking empty slots.
      const to = this.count === this.far.size ? this.far.top().at : this.now + 1;
      if (to > until) return undefined;
      this.now = to;
      // Far events whose time entered the horizon move into their slots.
      while (this.far.size > 0 && this.far.top().at - this.now < SLOTS) {
        const f = this.far.pop();
        (this.slots[f.at & MASK] ??= []).push(f.ev);
      }
    }
    return undefined;
  }

  /** Runs every event due at or before `until`; then time is `until` + 1 (events pushed at `until` afterwards run next). */
  runUntil(until: number): void {
    for (let e = this.next(until); e !== undefined; e = this.next(until)) e.fire();
    if (this.now <= until) this.advanceTo(until + 1);
  }

  /** Runs every event due at or before `t`; then time is exactly `t`. */
  runTo(t: number): void {
    for (let e = this.next(t); e !== undefined; e = this.next(t)) e.fire();
    if (this.now < t) this.advanceTo(t);
  }

  /** Moves time forward to `t` with nothing due before it (asserted). */
  private advanceTo(t: number): void {
    const slot = this.slots[this.now & MASK];
    if (slot !== undefined && this.cursor < slot.length) throw new Error(`event queue: advancing to ${t} past events due at ${this.now}`);
    if (slot !== undefined) slot.length = 0;
    this.cursor = 0;
    // Everything left is due after `until` (next() returned undefined), so no wheel slot in between is skipped.
    this.now = t;
    while (this.far.size > 0 && this.far.top().at - this.now < SLOTS) {
      const f = this.far.pop();
      (this.slots[f.at & MASK] ??= []).push(f.ev);
    }
  }
}
