import { systemTimers, type TimerHandle, type Timers } from '../../util/timers.js';

/**
 * A loop that runs a step whenever it is poked (store changes) or when its
 * own deadline comes, never two steps at once, and never spins: pokes that
 * arrive during a step coalesce into one more step. The orchestrator and the
 * scheduler each run in one on the leader, because their decisions must see
 * the result of their previous proposal before deciding again.
 */
export class SerialLoop {
  private running = false;
  private dirty = false;
  private stopped = true;
  private timer: TimerHandle | null = null;
  private immediate: TimerHandle | null = null;

  /** `step` returns in how many ms it next wants to run on its own, or null. */
  constructor(
    private readonly step: () => Promise<number | null>,
    private readonly onError: (err: Error) => void,
    private readonly timers: Timers = systemTimers,
  ) {}

  start(): void {
    this.stopped = false;
    this.poke();
  }

  stop(): void {
    this.stopped = true;
    this.timers.clear(this.timer);
    this.timers.clear(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    if (this.immediate) return;
    // A zero-delay timer batches a burst of store events into one step.
    this.immediate = this.timers.setTimeout(() => {
      this.immediate = null;
      void this.run();
    }, 0);
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    this.dirty = false;
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
    if (wakeIn !== null) this.timer = this.timers.setTimeout(() => this.poke(), Math.max(0, wakeIn));
  }
}
