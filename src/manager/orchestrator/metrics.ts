/**
 * Counters. reconcile is pure, so it cannot bump a shared counter: each
 * Decision carries what it does (DecisionStats) and the caller adds it to an
 * OrchestratorMetrics once the batch has committed (a decision that is
 * proposed but lost must not count).
 */
import type { TaskOrchestration } from '../../model/index.js';

export type CreateReason = TaskOrchestration['Reason'];

export interface DecisionStats {
  /** Tasks created, by reason. */
  created: Record<CreateReason, number>;
  /** Tasks whose desired state was set past running (scale-down, update, restart of an exited task, drain, node down, removed service). */
  shutdown: number;
  /** Delayed tasks ('ready') moved to 'running'. */
  started: number;
  /** Tasks marked orphaned because their node was removed from the cluster. */
  orphaned: number;
  /** Terminal tasks deleted (history beyond the limit, removed services). */
  deleted: number;
  /** Exited tasks the restart policy chose not to replace (condition, MaxAttempts). */
  restartsSuppressed: number;
  /** Tasks moved off a down or removed node (replaced at once, without restart delay). */
  nodeDownReschedules: number;
  /** Tasks moved off a drained node. */
  drainReschedules: number;
  updatesStarted: number;
  updatesCompleted: number;
  updatesPaused: number;
  rollbacksStarted: number;
  rollbacksCompleted: number;
  /** The decision hit maxActions and was cut (wakeAt = now). */
  truncated: number;
  /** Odd store contents that were worked around (unparsable constraint, bad replica count…), one line each. */
  problems: string[];
}

export function emptyStats(): DecisionStats {
  return {
    created: { create: 0, restart: 0, reschedule: 0, update: 0, rollback: 0 },
    shutdown: 0,
    started: 0,
    orphaned: 0,
    deleted: 0,
    restartsSuppressed: 0,
    nodeDownReschedules: 0,
    drainReschedules: 0,
    updatesStarted: 0,
    updatesCompleted: 0,
    updatesPaused: 0,
    rollbacksStarted: 0,
    rollbacksCompleted: 0,
    truncated: 0,
    problems: [],
  };
}

/** Adds every counter of `s` into `into` (problems excepted). */
export function addCounts(into: Omit<DecisionStats, 'problems'>, s: Omit<DecisionStats, 'problems'>): void {
  for (const k of Object.keys(into.created) as CreateReason[]) into.created[k] += s.created[k];
  into.shutdown += s.shutdown;
  into.started += s.started;
  into.orphaned += s.orphaned;
  into.deleted += s.deleted;
  into.restartsSuppressed += s.restartsSuppressed;
  into.nodeDownReschedules += s.nodeDownReschedules;
  into.drainReschedules += s.drainReschedules;
  into.updatesStarted += s.updatesStarted;
  into.updatesCompleted += s.updatesCompleted;
  into.updatesPaused += s.updatesPaused;
  into.rollbacksStarted += s.rollbacksStarted;
  into.rollbacksCompleted += s.rollbacksCompleted;
  into.truncated += s.truncated;
}

/** Running totals over committed decisions. */
export class OrchestratorMetrics {
  decisions = 0;
  actions = 0;
  readonly totals: Omit<DecisionStats, 'problems'> = (({ problems: _p, ...rest }) => rest)(emptyStats());
  /** Last few distinct problem lines, newest last (bounded: the same problem repeats every reconcile). */
  readonly recentProblems: string[] = [];

  add(stats: DecisionStats, actionCount: number): void {
    this.decisions++;
    this.actions += actionCount;
    addCounts(this.totals, stats);
    for (const p of stats.problems) {
      if (this.recentProblems.includes(p)) continue;
      this.recentProblems.push(p);
      if (this.recentProblems.length > 20) this.recentProblems.shift();
    }
  }
}
