/**
 * The orchestrator's contract: a pure function from desired state to the
 * store changes that move the cluster toward it.
 *
 *   const d = reconcile(view, now, ids, opts);
 *   propose(d.actions)                 // one Raft proposal, applied atomically
 *   …after it applies (or fails), call reconcile again on the new state;
 *   also call it on every store change and no later than d.wakeAt.
 *
 * No I/O, no timers, no clock, no randomness inside: the caller passes `now`
 * and an id generator. Every decision is a function of the view (plus `now`
 * for delays), and everything the orchestrator must remember between calls is
 * written into the tasks themselves (Task.Orchestration) or the service
 * (UpdateStatus), so a new leader continues exactly where the old one stopped.
 *
 * Re-running reconcile on the state that results from applying its actions
 * never repeats them: a slot covered by a live task is never refilled, a task
 * whose desired state is already past running is never shut down again.
 * Running it twice on the SAME view (before the first batch applies) would
 * repeat creations: keep one batch in flight at a time (see the README).
 */
import type { Node, Service, ServiceSpec, Task, TaskOrchestration, TaskState, TaskStatus, UpdateStatus } from '../../model/index.js';
import type { DecisionStats } from './metrics.js';
import type { OrchestratorOptions } from './options.js';

/** A consistent snapshot of the store. Never mutated by the orchestrator. */
export interface OrchestratorView {
  readonly services: readonly Service[];
  readonly tasks: readonly Task[];
  readonly nodes: readonly Node[];
  /** Cluster settings (SwarmSpec.Orchestration). taskHistoryLimit: terminal tasks kept per slot, default 5, negative keeps all. */
  readonly cluster?: { readonly taskHistoryLimit?: number };
}

/**
 * A store change. `version` is the object's Version.Index in the view the
 * decision was made from.
 *
 * Task actions are field patches over fields the orchestrator owns
 * (DesiredState, Orchestration, and Status only to mark a task orphaned); they
 * stay correct when the task changed in between (an agent's status report),
 * so the store applies them to the current task regardless of `version`. A
 * patch or delete for a task that no longer exists is skipped.
 *
 * updateService actions are NOT safe over a newer service (a user's spec
 * change in between would be marked completed or rolled back): the store must
 * apply one only if the service's Version.Index still equals `version`, and
 * skip it otherwise (the next reconcile decides again).
 */
export type Action =
  | { type: 'createTask'; task: Task }
  | {
      type: 'updateTask';
      id: string;
      version: number;
      desiredState?: TaskState;
      /** Merged into Status; only ever moves State forward (to 'orphaned'). */
      status?: Partial<TaskStatus>;
      /** Merged into Task.Orchestration. */
      orchestration?: Partial<TaskOrchestration>;
    }
  | { type: 'deleteTask'; id: string; version: number }
  | {
      type: 'updateService';
      id: string;
      version: number;
      /** Replaces UpdateStatus. */
      updateStatus?: UpdateStatus;
      /** Replaces Spec (rollback). */
      spec?: ServiceSpec;
      /** Replaces PreviousSpec; null clears it. */
      previousSpec?: ServiceSpec | null;
    };

export type ActionType = Action['type'];

export interface Decision {
  /** Apply all of them in one atomic batch (one Raft proposal). Empty: nothing to do now. */
  actions: Action[];
  /**
   * The earliest time (same clock as `now`) at which reconcile would decide
   * something new without any store change: a restart delay ending, a
   * replacement's predecessor timing out, an update's Delay or Monitor
   * elapsing. null: only a store change can make a difference. When the
   * action cap truncated the decision, wakeAt is `now` (call again once the
   * batch applied).
   */
  wakeAt: number | null;
  /** What this decision does, counted (add them to OrchestratorMetrics once the batch commits). */
  stats: DecisionStats;
}

export type ReconcileFn = (view: OrchestratorView, now: number, ids: () => string, opts?: Partial<OrchestratorOptions>) => Decision;
