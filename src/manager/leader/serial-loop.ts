import { systemTimers, type TimerHandle, type Timers } from '../../util/timers.js';

/**
 * A loop that runs a step whenever it is poked (store changes) or when its
 * own deadline comes, never two steps at once, and never spins: pokes that
 * arrive during a step coalesce into one more step. The orchestrator and the
 * scheduler each run in one on the leader, because their decisions must see
 * the result of their previous proposal before deciding again.
 */
/** The longest rest after one step: 200 ms, next to a heal of ~1.3 s. */
const MAX_REST_MS = 200;
/**
 * How long after the last step a nudge (a change the step may see a little
 * later) may wait for more: 200 ms. A lone change after a quiet spell runs
 * at once; a storm of them (300 tasks each reporting five states while they
 * start) runs at most five steps a second instead of one per status commit.
 */
export const NUDGE_GAP_MS = 200;

export class SerialLoop {
  private running = false;
  private dirty = false;
  private stopped = true;
  private timer: TimerHandle | null = null;
  private immediate: TimerHandle | null = null;
  /** A nudged step, due NUDGE_GAP_MS after the last one started. */
  private nudged: TimerHandle | null = null;
  /** A nudge came while a step ran. */
  private nudgedDuring = false;
  /** When the last step started (timers.now()): what it saw is at most this old. */
  private lastStart = -Infinity;
  /** No step starts before this (timers.now()): the rest after a costly one (spent). */
  private restUntil = -Infinity;

  /**
   * `step` returns in how many ms it next wants to run on its own, or null.
   * `restRatio`: after a step that reports `spent(ms)` of its own work, the
   * loop waits restRatio × ms before the next, so that in a storm of store
   * changes (hundreds of tasks reporting while they start, a status commit
   * every 25 ms) it takes at most 1 / (1 + restRatio) of the event loop,
   * however large the cluster's state has made each step. A cheap step
   * (a small cluster) rests next to nothing.
   */
  constructor(
    private readonly step: () => Promise<number | null>,
    private readonly onError: (err: Error) => void,
    private readonly timers: Timers = systemTimers,
    private readonly restRatio = 0,
  ) {}

  /**
   * The step's own synchronous work took `ms` (on timers.now()): rest in
   * proportion before the next, at most MAX_REST_MS (a GC pause or a stall
   * of the process counted into one step must not hold decisions for
   * seconds).
   */
  spent(ms: number): void {
    if (this.restRatio > 0 && ms > 0) this.restUntil = this.timers.now() + Math.min(MAX_REST_MS, ms * this.restRatio);
  }

  start(): void {
    this.stopped = false;
    this.poke();
  }

  stop(): void {
    this.stopped = true;
    this.restUntil = -Infinity;
    this.timers.clear(this.timer);
    this.timers.clear(this.immediate);
    this.timers.clear(this.nudged);
    this.timer = null;
    this.immediate = null;
    this.nudged = null;
  }

  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    if (this.immediate) return;
    // A zero-delay timer batches a burst of store events into one step (a rest, if one is due, batches more).
    this.immediate = this.timers.setTimeout(
      () => {
        this.immediate = null;
        void this.run();
      },
      Math.max(0, this.restUntil - this.timers.now()),
    );
  }

  /**
   * A change the step must see, but not at once (a task's progress between
   * two live states): stepped on within NUDGE_GAP_MS of the last step's
   * start, together with whatever else came meanwhile, or at once when the
   * last step is older than that.
   */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.nudgedDuring = true;
      return;
    }
    if (this.immediate || this.nudged) return;
    const wait = Math.max(0, this.lastStart + NUDGE_GAP_MS - this.timers.now());
    if (wait === 0) return this.poke();
    this.nudged = this.timers.setTimeout(() => {
      this.nudged = null;
      this.poke();
    }, wait);
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    this.dirty = false;
    this.nudgedDuring = false;
    // This step sees every change so far: a pending nudge is answered by it.
    this.timers.clear(this.nudged);
    this.nudged = null;
    this.lastStart = this.timers.now();
    let wakeIn: number | null = null;
    try {
      wakeIn = await this.step();
    } catch (err) {
      this.onError(err as Error);
      // Back off a little after a failed step (no leader, conflict storm).
      wakeIn = 200;
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    this.timers.clear(this.timer);
    this.timer = null;
    if (this.dirty) return this.poke();
    if (this.nudgedDuring) this.nudge();
    if (wakeIn !== null) this.timer = this.timers.setTimeout(() => this.poke(), Math.max(0, wakeIn));
  }
}
