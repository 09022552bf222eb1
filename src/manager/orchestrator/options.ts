/**
 * Tunables and the defaults of Docker's service spec. Every value says why it
 * is what it is. Durations in service specs are nanoseconds (Docker's API);
 * everything here is milliseconds.
 */
import type { UpdateConfig } from '../../model/index.js';
import { OrchestratorError } from './errors.js';

export interface OrchestratorOptions {
  /**
   * RestartPolicy.Delay when the spec has none. Docker's 5 s: long enough that
   * a crash loop (bad image, missing config) costs little, short enough that a
   * one-off crash is back quickly. Not applied when the task died with its node
   * or was moved off a drained node: that is not the task's fault.
   */
  defaultRestartDelayMs: number;
  /**
   * TaskHistoryRetentionLimit when the cluster sets none: Docker's 5, enough
   * for `docker service ps` to show why a slot keeps failing without letting
   * crash loops grow the store.
   */
  defaultTaskHistoryLimit: number;
  /**
   * A replacement waits (DesiredState 'ready') for the task it replaces to stop
   * before it starts, so a slot never runs two copies (host ports, singleton
   * workloads). A predecessor on a live node that never reports (a hung agent)
   * must not block the slot forever: SwarmKit gives up after a minute.
   */
  oldTaskTimeoutMs: number;
  /**
   * Most actions in one decision. Scaling a service to 10,000 replicas should
   * not be a single 10,000-task Raft entry: a capped decision sets wakeAt = now
   * and the rest follows in the next batches. Slots are never split, so every
   * batch is self-consistent.
   */
  maxActions: number;
  /** UpdateConfig fields the spec leaves out (Docker's defaults). */
  updateDefaults: Required<UpdateConfig>;
  /** RollbackConfig fields the spec leaves out (Docker's defaults). */
  rollbackDefaults: Required<UpdateConfig>;
}

/**
 * Docker's update defaults: one task at a time, no delay, 5 s of watching each
 * new task, pause at the first failure, stop the old task before starting the
 * new one (safe for anything that binds a host port or must be a singleton).
 * An explicit Parallelism 0 still means "all at once", as in Docker.
 */
const UPDATE_DEFAULTS: Required<UpdateConfig> = {
  Parallelism: 1,
  Delay: 0,
  FailureAction: 'pause',
  Monitor: 5_000_000_000,
  MaxFailureRatio: 0,
  Order: 'stop-first',
};

export const DEFAULT_OPTIONS: Readonly<OrchestratorOptions> = Object.freeze({
  defaultRestartDelayMs: 5_000,
  defaultTaskHistoryLimit: 5,
  oldTaskTimeoutMs: 60_000,
  maxActions: 2_000,
  updateDefaults: UPDATE_DEFAULTS,
  rollbackDefaults: { ...UPDATE_DEFAULTS },
});

export function resolveOptions(opts: Partial<OrchestratorOptions> = {}): OrchestratorOptions {
  const o: OrchestratorOptions = {
    ...DEFAULT_OPTIONS,
    ...opts,
    updateDefaults: { ...DEFAULT_OPTIONS.updateDefaults, ...opts.updateDefaults },
    rollbackDefaults: { ...DEFAULT_OPTIONS.rollbackDefaults, ...opts.rollbackDefaults },
  };
  const nonNeg = (name: string, v: number): void => {
    if (!Number.isFinite(v) || v < 0) throw new OrchestratorError('INVALID_OPTIONS', `${name} must be a finite number ≥ 0, got ${v}`);
  };
  nonNeg('defaultRestartDelayMs', o.defaultRestartDelayMs);
  nonNeg('oldTaskTimeoutMs', o.oldTaskTimeoutMs);
  if (!Number.isInteger(o.defaultTaskHistoryLimit)) throw new OrchestratorError('INVALID_OPTIONS', `defaultTaskHistoryLimit must be an integer`);
  if (!Number.isInteger(o.maxActions) || o.maxActions < 1) throw new OrchestratorError('INVALID_OPTIONS', `maxActions must be an integer ≥ 1`);
  return o;
}

/** ns (Docker's durations) → ms; absent, negative or garbage → the fallback. */
export function nsToMs(ns: number | undefined, fallbackMs: number): number {
  if (ns === undefined || !Number.isFinite(ns) || ns < 0) return fallbackMs;
  return ns / 1e6;
}
