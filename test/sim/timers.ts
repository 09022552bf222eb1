/**
 * Timers (src/util/timers.ts) on a simulation's event queue: the dispatcher,
 * the lease service, the leader's loops and the agent's session run on
 * simulated time, and a test moves that time itself instead of waiting for
 * the wall clock.
 */
import type { TimerHandle, Timers } from '../../src/util/timers.js';
import { EventQueue, type SimEvent } from './event-queue.js';

class SimTimer implements SimEvent {
  cancelled = false;
  constructor(
    private readonly q: EventQueue,
    private readonly fn: () => void,
    private readonly everyMs: number | null,
  ) {}

  fire(): void {
    if (this.cancelled) return;
    // An interval re-arms before it runs, as Node's does, so a callback that clears it wins.
    if (this.everyMs !== null) this.q.push(this.q.now + this.everyMs, this);
    this.fn();
  }
}

export class SimTimers implements Timers {
  readonly q: EventQueue;

  /** `wallAtZero`: the epoch ms that simulated time 0 stands for. */
  constructor(
    q?: EventQueue,
    private readonly wallAtZero = Date.UTC(2026, 0, 1),
  ) {
    this.q = q ?? new EventQueue();
  }

  now(): number {
    return this.q.now;
  }

  wall(): number {
    return this.wallAtZero + this.q.now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = new SimTimer(this.q, fn, null);
    this.q.push(this.q.now + Math.max(0, ms), t);
    return t;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const every = Math.max(1, ms);
    const t = new SimTimer(this.q, fn, every);
    this.q.push(this.q.now + every, t);
    return t;
  }

  clear(h: TimerHandle | null | undefined): void {
    if (h instanceof SimTimer) h.cancelled = true;
  }

  /** Simulated I/O is delivered by events of its own: what is due now runs first. */
  afterIo(fn: () => void): void {
    this.setTimeout(fn, 0);
  }

  /** Moves simulated time `ms` forward, running every timer due meanwhile. */
  advance(ms: number): void {
    this.q.runTo(this.q.now + ms);
  }
}

/**
 * The timers of one process's life in a simulation: when the process dies
 * (`kill`), none of its timers runs again, so the objects of a crashed
 * node fall silent as a killed process's would.
 */
export class LifeTimers implements Timers {
  private dead = false;
  private readonly live = new Set<TimerHandle>();

  constructor(private readonly base: Timers) {}

  kill(): void {
    this.dead = true;
    for (const h of this.live) this.base.clear(h);
    this.live.clear();
  }

  get alive(): boolean {
    return !this.dead;
  }

  now(): number {
    return this.base.now();
  }

  wall(): number {
    return this.base.wall();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const h = this.base.setTimeout(() => {
      this.live.delete(h);
      if (!this.dead) fn();
    }, ms);
    if (!this.dead) this.live.add(h);
    else this.base.clear(h);
    return h;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const h = this.base.setInterval(() => {
      if (!this.dead) fn();
    }, ms);
    if (!this.dead) this.live.add(h);
    else this.base.clear(h);
    return h;
  }

  clear(h: TimerHandle | null | undefined): void {
    if (!h) return;
    this.live.delete(h);
    this.base.clear(h);
  }

  afterIo(fn: () => void): void {
    this.setTimeout(fn, 0);
  }
}
