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
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;

  /** `step` returns when it next wants to run on its own (epoch ms), or null. */
  constructor(
    private readonly step: () => Promise<number | null>,
    private readonly onError: (err: Error) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.poke();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
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
    // setImmediate batches a burst of store events into one step.
    this.immediate = setImmediate(() => {
      this.immediate = null;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    this.dirty = false;
    let wakeAt: number | null = null;
    try {
      wakeAt = await this.step();
    } catch (err) {
      this.onError(err as Error);
      // Back off a little after a failed step (no leader, conflict storm).
      wakeAt = Date.now() + 200;
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.dirty) return this.poke();
    if (wakeAt !== null) {
      this.timer = setTimeout(() => this.poke(), Math.max(0, wakeAt - Date.now()));
      this.timer.unref();
    }
  }
}
