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
  /**
   * Shared node indexes kept for small groups (placement-index.ts), least
   * recently used dropped first. Each holds ~25 bytes per node slot (~250 KB
   * at 10,000 nodes), so 64 stay under ~16 MB; groups of a batch using more
   * distinct (constraints, reservation, strategy) keys than that take the
   * pass path.
   */
  maxIndexes: number;
  /**
   * A group of k tasks goes through a shared index when
   * indexCostRatio × k × (m + k) ≤ nodes, m being the nodes it must examine
   * itself (those running its service, those holding its host ports); else it
   * makes one pass over the nodes. 4 because a pass step is a few compares
   * while an index step sifts a heap. 0 sends every group it can through an
   * index, Infinity none (tests use both to hold the two paths to the same
   * answers).
   */
  indexCostRatio: number;
}

export const DEFAULT_OPTIONS: Readonly<SchedulerOptions> = Object.freeze({
  strategy: 'binpack',
  maxReasons: 5,
  checkInvariants: false,
  maxCachedShapes: 64,
  maxIndexes: 64,
  indexCostRatio: 4,
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
  if (!Number.isInteger(r.maxIndexes) || r.maxIndexes < 1) {
    throw new SchedulerError('INVALID_OPTIONS', `maxIndexes must be an integer ≥ 1, got ${r.maxIndexes}`);
  }
  if (typeof r.indexCostRatio !== 'number' || Number.isNaN(r.indexCostRatio) || r.indexCostRatio < 0) {
    throw new SchedulerError('INVALID_OPTIONS', `indexCostRatio must be a number ≥ 0, got ${r.indexCostRatio}`);
  }
  if (typeof r.checkInvariants !== 'boolean') {
    throw new SchedulerError('INVALID_OPTIONS', 'checkInvariants must be a boolean');
  }
  return r;
}
