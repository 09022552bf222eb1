/**
 * The meaning of each Action, as executable reference: what the store's apply
 * must do with a Decision. Used by the tests and the simulation; the real
 * store applies the same rules inside its Raft state machine.
 *
 * Objects are replaced, never mutated, so a view handed to reconcile earlier
 * stays valid.
 */
import { stateRank } from '../../model/index.js';
import type { Service, Task } from '../../model/index.js';
import type { Action, OrchestratorView } from './interface.js';

export interface ApplyResult {
  view: OrchestratorView;
  /** Actions that did not apply, and why (a stale updateService, a patch of a task already deleted). */
  skipped: { action: Action; why: string }[];
}

/**
 * Apply a batch. `version` is the Raft index the batch commits at: it becomes
 * the Version.Index of everything it touches. `now` stamps UpdatedAt.
 */
export function applyActions(view: OrchestratorView, actions: readonly Action[], version: number, now: number): ApplyResult {
  const tasks = new Map<string, Task>(view.tasks.map((t) => [t.ID, t]));
  const services = new Map<string, Service>(view.services.map((s) => [s.ID, s]));
  const skipped: ApplyResult['skipped'] = [];
  const at = new Date(now).toISOString();
  for (const a of actions) {
    switch (a.type) {
      case 'createTask': {
        if (tasks.has(a.task.ID)) {
          skipped.push({ action: a, why: 'task id exists' });
          break;
        }
        tasks.set(a.task.ID, { ...a.task, Version: { Index: version } });
        break;
      }
      case 'updateTask': {
        const t = tasks.get(a.id);
        if (!t) {
          skipped.push({ action: a, why: 'no such task' });
          break;
        }
        const n: Task = { ...t, Version: { Index: version }, UpdatedAt: at };
        // Desired state only moves forward (ready → running → shutdown → remove).
        if (a.desiredState !== undefined && stateRank(a.desiredState) > stateRank(t.DesiredState)) n.DesiredState = a.desiredState;
        if (a.status !== undefined && (a.status.State === undefined || stateRank(a.status.State) >= stateRank(t.Status.State))) {
          n.Status = { ...t.Status, ...a.status };
        }
        if (a.orchestration !== undefined) n.Orchestration = { ...t.Orchestration, ...a.orchestration } as Task['Orchestration'];
        tasks.set(a.id, n);
        break;
      }
      case 'deleteTask': {
        if (!tasks.delete(a.id)) skipped.push({ action: a, why: 'no such task' });
        break;
      }
      case 'updateService': {
        const s = services.get(a.id);
        if (!s) {
          skipped.push({ action: a, why: 'no such service' });
          break;
        }
        if (s.Version.Index !== a.version) {
          skipped.push({ action: a, why: `service changed (version ${s.Version.Index}, decided on ${a.version})` });
          break;
        }
        const n: Service = { ...s, Version: { Index: version }, UpdatedAt: at };
        if (a.updateStatus !== undefined) n.UpdateStatus = a.updateStatus;
        if (a.spec !== undefined) n.Spec = a.spec;
        if (a.previousSpec === null) delete n.PreviousSpec;
        else if (a.previousSpec !== undefined) n.PreviousSpec = a.previousSpec;
        services.set(a.id, n);
        break;
      }
    }
  }
  return {
    view: { ...view, services: [...services.values()], tasks: [...tasks.values()] },
    skipped,
  };
}
