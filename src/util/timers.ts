/**
 * Time from outside. The control-plane loops that are not pure cores (the
 * dispatcher, the fencing lease service, the leader's serial loops, the
 * worker agent's session) take a Timers instead of calling Date.now and
 * setTimeout themselves, so a deterministic simulation can run them on its
 * own clock and a test never waits on the wall clock for them.
 */
import { monotonicMs } from './monotonic.js';

/** An opaque timer handle: only `clear` looks inside. */
export type TimerHandle = { readonly __timer?: never } | object;

export interface Timers {
  /** Monotonic ms: the clock for deadlines, leases and liveness (never steps). */
  now(): number;
  /** Epoch ms: the clock for timestamps people read (may step). */
  wall(): number;
  /** Runs `fn` once after `ms`. Never keeps the process alive on its own. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Runs `fn` every `ms`. Never keeps the process alive on its own. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer from either call; null and cleared handles are ignored. */
  clear(h: TimerHandle | null | undefined): void;
  /**
   * Runs `fn` once the I/O that is already waiting has been read (Node's
   * check phase: setImmediate). A decision that must see every message that
   * arrived during a stall of this process waits for this.
   */
  afterIo(fn: () => void): void;
}

/** The machine's clocks and Node's timers, unref'd: sockets and servers keep a node alive, not its timers. */
export const systemTimers: Timers = {
  now: monotonicMs,
  wall: Date.now,
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref();
    return t;
  },
  clear(h) {
    if (h) clearTimeout(h as NodeJS.Timeout); // clearTimeout clears intervals too
  },
  afterIo(fn) {
    setImmediate(fn);
  },
};

/** Resolves after `ms` on `timers`' clock. */
export function sleepOn(timers: Timers, ms: number): Promise<void> {
  return new Promise((resolve) => {
    timers.setTimeout(resolve, ms);
  });
}
