/**
 * Restart policy: whether a task that exited gets a replacement, and when.
 *
 * SwarmKit keeps restart counts in the leader's memory, so a failover resets
 * MaxAttempts. Here the count travels with the slot's tasks
 * (Task.Orchestration.Restarts / RestartTimesMs): the replacement carries its
 * predecessor's count plus one, and a spec change starts the count again (past
 * failures say nothing about a new definition). Because the decision reads
 * only the exited task, it is the same every time it is evaluated: a slot
 * whose task was not restarted stays empty ("finished") instead of being
 * refilled by a later reconcile.
 */
import type { RestartPolicy, Task, TaskSpec } from '../../model/index.js';
import { exitedOnItsOwn } from './model.js';
import { nsToMs } from './options.js';
import type { OrchestratorOptions } from './options.js';

export interface ResolvedRestartPolicy {
  condition: NonNullable<RestartPolicy['Condition']>;
  delayMs: number;
  /** 0 = unlimited. */
  maxAttempts: number;
  /** 0 = count over the slot's whole life (under one spec). */
  windowMs: number;
}

export function restartPolicy(spec: TaskSpec, opts: OrchestratorOptions): ResolvedRestartPolicy {
  const p = spec.RestartPolicy ?? {};
  const condition = p.Condition === 'none' || p.Condition === 'on-failure' ? p.Condition : 'any';
  const max = p.MaxAttempts;
  return {
    condition,
    delayMs: nsToMs(p.Delay, opts.defaultRestartDelayMs),
    maxAttempts: max !== undefined && Number.isInteger(max) && max > 0 ? max : 0,
    windowMs: nsToMs(p.Window, 0),
  };
}

/** The restart count and recent restart times a task carries, as they apply to the current spec. */
export interface RestartCounts {
  restarts: number;
  times: number[];
}

export function countsOf(t: Task, sameSpec: boolean): RestartCounts {
  if (!sameSpec) return { restarts: 0, times: [] };
  const o = t.Orchestration;
  return { restarts: o?.Restarts ?? 0, times: o?.RestartTimesMs ?? [] };
}

/**
 * Should the task `t`, which exited on its own at `exitMs`, be replaced?
 * Judged by the policy and counts t ran under, so the answer never changes
 * later: a slot left empty stays empty even after a spec change (the rolling
 * update then gives it the new spec, through the update's own pacing).
 */
export function shouldRestart(t: Task, exitMs: number, opts: OrchestratorOptions): boolean {
  if (!exitedOnItsOwn(t.Status.State)) return true;
  const p = restartPolicy(t.Spec, opts);
  if (p.condition === 'none') return false;
  if (p.condition === 'on-failure' && t.Status.State === 'complete') return false;
  if (p.maxAttempts === 0) return true;
  const c = countsOf(t, true);
  if (p.windowMs > 0) {
    const since = exitMs - p.windowMs;
    return c.times.filter((r) => r > since).length < p.maxAttempts;
  }
  return c.restarts < p.maxAttempts;
}

/** The counts the replacement of `t` carries. `restart`: replacing an exit (counts), not a node loss (does not). */
export function nextCounts(t: Task, sameSpec: boolean, restart: boolean, now: number, opts: OrchestratorOptions, newSpec: TaskSpec): RestartCounts {
  const c = countsOf(t, sameSpec);
  if (!restart) return c;
  const p = restartPolicy(newSpec, opts);
  let times = c.times;
  if (p.windowMs > 0 && p.maxAttempts > 0) {
    // Only what can still fall in a future window matters; the cap keeps the task small.
    times = [...times.filter((r) => r > now - p.windowMs), now].slice(-p.maxAttempts);
  } else {
    times = [];
  }
  return { restarts: c.restarts + 1, times };
}
