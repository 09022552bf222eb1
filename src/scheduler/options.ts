/**
 * Tunables of the scheduler, each with the reason for its default.
 */
import { SchedulerError } from './errors.js';
import type { Strategy } from './interface.js';

export interface SchedulerOptions {
  /**
   * 'binpack': best fit, as Nomad does by default: packing keeps whole nodes
   * free for the next large task and lets idle nodes be drained. Tasks with no
   * reservations still spread (Swarm's behaviour), so `--replicas 3` without
   * reservations lands on 3 nodes. 'spread': Swarm's placement.
   */
  strategy: Strategy;
  /**
   * At most this many distinct causes in an unplaced task's reason; the rest
   * are summed into "and N more nodes". The reason lands in
   * Task.Status.Message, which `docker service ps` prints on one line.
   */
  maxReasons: number;
  /**
   * After every call that changes state, recompute every node's aggregates
   * from the task table and assert they match. O(tasks) per call, so off by
   * default; tests and simulations turn it on.
   */
  checkInvariants: boolean;
  /**
   * Reservation shapes (cpu, mem) whose per-node binpack scores are cached.
   * Each costs 16 bytes per node (160 KB at 10,000 nodes), so 64 stay under
   * ~10 MB there while covering the handful of sizes most clusters reserve.
   */
  maxCachedShapes: number;
}

export const DEFAULT_OPTIONS: Readonly<SchedulerOptions> = Object.freeze({
  strategy: 'binpack',
  maxReasons: 5,
  checkInvariants: false,
  maxCachedShapes: 64,
});

export function resolveOptions(o: Partial<SchedulerOptions> = {}): SchedulerOptions {
  const r: SchedulerOptions = { ...DEFAULT_OPTIONS, ...o };
  if (r.strategy !== 'binpack' && r.strategy !== 'spread') {
    throw new SchedulerError('INVALID_OPTIONS', `strategy must be 'binpack' or 'spread', got ${JSON.stringify(r.strategy)}`);
  }
  if (!Number.isInteger(r.maxReasons) || r.maxReasons < 1) {
    throw new SchedulerError('INVALID_OPTIONS', `maxReasons must be an integer ≥ 1, got ${r.maxReasons}`);
  }
  if (!Number.isInteger(r.maxCachedShapes) || r.maxCachedShapes < 1) {
    throw new SchedulerError('INVALID_OPTIONS', `maxCachedShapes must be an integer ≥ 1, got ${r.maxCachedShapes}`);
  }
  if (typeof r.checkInvariants !== 'boolean') {
    throw new SchedulerError('INVALID_OPTIONS', 'checkInvariants must be a boolean');
  }
  return r;
}
