/**
 * Rolling updates and rollbacks, as a function of the store.
 *
 * SwarmKit runs each update as a goroutine with worker goroutines, timers and
 * an in-memory list of the tasks it created; a leader change restarts it from
 * scratch. Here every fact the update needs is in the store:
 *
 *  - a slot is dirty when its task's Spec differs from Spec.TaskTemplate
 *    (ForceUpdate is part of the template, so `--force` dirties every slot);
 *  - a slot is in flight while the task the update created for it
 *    (Orchestration.Reason 'update' | 'rollback', created after
 *    UpdateStatus.StartedAt) has not run for UpdateConfig.Delay yet: that is
 *    SwarmKit's busy worker, so at most Parallelism slots are in flight;
 *  - failures are the update's tasks that exited on their own within Monitor
 *    of running (or before running at all); their share of the slots above
 *    MaxFailureRatio triggers FailureAction;
 *  - the update completes once no slot is dirty or in flight and every new
 *    task has run for Monitor.
 *
 * UpdateStatus moves: (none) → updating → completed | paused |
 * rollback_started → rollback_completed | rollback_paused. A rollback swaps
 * Spec and PreviousSpec and runs the same machinery with RollbackConfig; a
 * rollback is never rolled back (it pauses instead). Paused updates stay
 * paused until the user updates the service again (the API clears
 * UpdateStatus when the spec changes, as SwarmKit's control API does).
 */
import type { Task, UpdateStatus } from '../../model/index.js';
import type { ServiceCtx } from './context.js';
import { createdMs, exitedOnItsOwn, isoTime } from './model.js';
import type { Group } from './plan.js';
import type { SlotState } from './slots.js';
import { stopping } from './slots.js';

export function planUpdate(sc: ServiceCtx, slots: SlotState[]): void {
  const { plan, now } = sc.ctx;
  const u = sc.update;

  // Delay and Monitor count from when the new task runs: remember when we first saw that.
  for (const st of slots) {
    const k = st.keeper;
    if (k === null || st.created.includes(k) || !plan.isLive(k)) continue;
    const o = plan.orchestrationOf(k);
    if ((o.Reason === 'update' || o.Reason === 'rollback') && o.RunningSinceMs === undefined && plan.statusOf(k) === 'running') {
      plan.setOrchestration(st.group, k, { RunningSinceMs: now });
    }
  }

  if (u.state === 'paused' || u.state === 'rollback_paused') return;
  const active = u.state === 'updating' || u.state === 'rollback_started';
  const startedAt = u.state === undefined ? now : u.startedAtMs;
  const cfg = u.config;

  const isOurs = (t: Task): boolean => {
    const o = plan.orchestrationOf(t);
    return o.Reason === u.reason && createdMs(t) >= startedAt && sc.isClean(t);
  };
  const runningSince = (t: Task): number => plan.orchestrationOf(t).RunningSinceMs ?? now;

  const dirty: SlotState[] = [];
  let inFlight = 0;
  for (const st of slots) {
    if (!st.wanted) continue;
    const k = st.keeper;
    if (k !== null && plan.isLive(k)) {
      if (!sc.isClean(k)) {
        if (st.updatable) dirty.push(st);
      } else if (isOurs(k)) {
        if (plan.statusOf(k) !== 'running') inFlight++;
        else if (runningSince(k) + cfg.delayMs > now) {
          inFlight++;
          plan.wakeAt(runningSince(k) + cfg.delayMs);
        }
      }
    } else if (k === null && st.updatable && st.canCreate && !u.rollback) {
      // A finished slot (its task exited and is not restarted) still gets the
      // new spec, as in SwarmKit; a rollback leaves it alone so it converges.
      const newest = st.tasks[0];
      if (newest !== undefined && !sc.isClean(newest) && exitedOnItsOwn(plan.statusOf(newest))) dirty.push(st);
    }
  }

  const svcGroup = (): Group => plan.group(slots[0]?.group);
  const setStatus = (status: UpdateStatus, extra: { spec?: typeof sc.service.Spec; previousSpec?: typeof sc.service.Spec | null } = {}): Group => {
    const g = svcGroup();
    plan.updateService(g, sc.service, { updateStatus: status, ...extra });
    return g;
  };

  if (!active) {
    if (dirty.length === 0) return;
    if (u.state === undefined) {
      setStatus({ State: 'updating', StartedAt: isoTime(now), Message: 'update in progress' }).stats.updatesStarted++;
    }
    // completed / rollback_completed with dirty slots (a global service's node
    // that was paused during the update): replace them with the same settings,
    // without reopening the update in UpdateStatus.
  } else {
    const failed = failures(sc, slots, startedAt);
    const total = Math.max(1, slots.filter((s) => s.wanted).length);
    if (failed.length > 0 && failed.length / total > cfg.maxFailureRatio && cfg.failureAction !== 'continue') {
      const what = `failure or early termination of task ${failed[0]!.ID}`;
      const base = sc.service.UpdateStatus!;
      if (cfg.failureAction === 'rollback' && !u.rollback && sc.service.PreviousSpec !== undefined) {
        setStatus(
          { State: 'rollback_started', StartedAt: isoTime(now), Message: `update rolled back due to ${what}` },
          // SwarmKit clears PreviousSpec here (a manual rollback swaps instead): keeping the
          // failed spec let a second `service rollback` re-apply it.
          { spec: sc.service.PreviousSpec, previousSpec: null },
        ).stats.rollbacksStarted++;
      } else {
        const why = cfg.failureAction === 'rollback' && !u.rollback ? ' (no previous spec to roll back to)' : '';
        setStatus({ ...base, State: u.rollback ? 'rollback_paused' : 'paused', Message: `${u.rollback ? 'rollback' : 'update'} paused due to ${what}${why}` }).stats
          .updatesPaused++;
      }
      return;
    }
  }

  const parallelism = cfg.parallelism === 0 ? Infinity : cfg.parallelism;
  let free = parallelism - inFlight;
  for (const st of dirty) {
    if (free <= 0) break;
    replace(sc, st);
    inFlight++;
    free--;
  }

  if (active && dirty.length === 0 && inFlight === 0) {
    let monitorEnd = now;
    for (const st of slots) {
      const k = st.keeper;
      if (st.wanted && k !== null && plan.isLive(k) && isOurs(k)) monitorEnd = Math.max(monitorEnd, runningSince(k) + cfg.monitorMs);
    }
    if (monitorEnd > now) {
      plan.wakeAt(monitorEnd);
      return;
    }
    const base = sc.service.UpdateStatus!;
    const g = setStatus({
      ...base,
      State: u.rollback ? 'rollback_completed' : 'completed',
      CompletedAt: isoTime(now),
      Message: u.rollback ? 'rollback completed' : 'update completed',
    });
    if (u.rollback) g.stats.rollbacksCompleted++;
    else g.stats.updatesCompleted++;
  }
}

/** The update's own tasks that exited on their own within Monitor of running (or before running). */
function failures(sc: ServiceCtx, slots: SlotState[], startedAt: number): Task[] {
  const { plan, now } = sc.ctx;
  const u = sc.update;
  const out: Task[] = [];
  for (const st of slots) {
    for (const t of st.tasks) {
      const o = plan.orchestrationOf(t);
      if (o.Reason !== u.reason || createdMs(t) < startedAt || !sc.isClean(t)) continue;
      if (!exitedOnItsOwn(plan.statusOf(t))) continue;
      const exit = o.ExitedMs ?? now;
      if (o.RunningSinceMs === undefined || exit - o.RunningSinceMs <= u.config.monitorMs) out.push(t);
    }
  }
  return out;
}

/** Replace the slot's task with one made from the current spec. */
function replace(sc: ServiceCtx, st: SlotState): void {
  const { plan, now, opts } = sc.ctx;
  const old = st.keeper !== null && plan.isLive(st.keeper) ? st.keeper : null;
  // Start-first only helps when the old copy is serving; otherwise stop it first.
  const startFirst = sc.update.config.order === 'start-first' && old !== null && plan.statusOf(old) === 'running';
  if (old !== null && !startFirst) plan.shutdown(st.group, old);
  const blocked = !startFirst && stopping(sc, st.tasks, { forNewTask: true }).length > 0;
  const t = sc.newTask(st.slot, st.nodeId, blocked ? 'ready' : 'running', { Reason: sc.update.reason }, [...st.tasks, ...st.created]);
  plan.create(st.group, t);
  st.keeper = t;
  st.startFirstOld = startFirst ? old : null;
  st.created.push(t);
  if (blocked) plan.wakeAt(now + opts.oldTaskTimeoutMs);
}
