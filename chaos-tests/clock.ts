import { performance } from 'node:perf_hooks';

/**
 * The run's one clock: monotonic milliseconds since the run started. Every
 * operation's call/return, every fault and every sample is stamped with it,
 * so histories and recovery times never see a wall-clock step (the harness
 * itself shifts node clocks, never its own). File mtimes (task heartbeats)
 * are wall time and are mapped with `fromWall`.
 */
export class RunClock {
  private readonly t0 = performance.now();
  private readonly wall0 = Date.now();

  now(): number {
    return performance.now() - this.t0;
  }

  /** A wall-clock epoch ms (e.g. an mtime) on this clock. */
  fromWall(ms: number): number {
    return ms - this.wall0;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
