/**
 * One slot: a replica number of a replicated service, or a node of a global
 * service. Everything a slot needs is decided from the tasks in it:
 *
 *  - exited tasks are stopped (desired 'shutdown') and the restart policy
 *    says whether a replacement comes, after Delay;
 *  - tasks on a down, removed (or, replicated, drained) node are stopped and
 *    replaced at once: that was not the task's fault;
 *  - of the tasks still running, one is kept (the "keeper"); a start-first
 *    update may keep the old one beside it until the new one runs;
 *  - a slot with no keeper gets a task, unless its newest task exited and the
 *    restart policy says no (the slot is "finished").
 *
 * A replacement starts as DesiredState 'ready' while its predecessor may still
 * be running somewhere, or until its restart delay ends, and is moved to
 * 'running' by a later reconcile (promote): so one slot never runs two copies,
 * and the decision is a function of the store, not of a timer. The exception
 * is a rejected task (its agent could not prepare it): its replacement is
 * created only once the delay is over, since agents prepare 'ready' tasks at
 * once and it would just be rejected again (see fill).
 */
import { assert } from '../../util/assert.js';
import { isTerminal, stateRank } from '../../model/index.js';
import type { Task } from '../../model/index.js';
import type { ServiceCtx } from './context.js';
import { createdMs, endedMs, exitedOnItsOwn, isLiveDesired, neverRan, newestFirst } from './model.js';
import { lossOf } from './node-down.js';
import type { Group } from './plan.js';
import { nextCounts, restartPolicy, shouldRestart } from './restart.js';

export interface SlotInput {
  /** Slot number for new tasks (replicated: 1..N; global: 0). */
  slot: number;
  /** NodeID for new tasks (global: the node; replicated: '' for the scheduler to fill). */
  nodeId: string;
  /** Every task of the slot in the view. */
  tasks: Task[];
  /** The slot should hold a task (replicated: slot ≤ replicas; global: node up, not drained, constraints hold). */
  wanted: boolean;
  /** A task may be created in it now (global: the node is active and ready). */
  canCreate: boolean;
  /** The rolling update may replace its task now (global: not on a paused or unreachable node). */
  updatable: boolean;
}

export interface SlotState extends SlotInput {
  group: Group;
  /** The task that fills the slot once this decision applies (maybe created by it). */
  keeper: Task | null;
  /** Start-first update: the old task kept running until the keeper runs. */
  startFirstOld: Task | null;
  /** Tasks this decision creates in the slot. */
  created: Task[];
}

/** Furthest along first, then running-desired over delayed, then oldest: the copy worth keeping. */
function bestFirst(sc: ServiceCtx): (a: Task, b: Task) => number {
  const plan = sc.ctx.plan;
  return (a, b) =>
    stateRank(plan.statusOf(b)) - stateRank(plan.statusOf(a)) ||
    (plan.desiredOf(a) === 'running' ? 0 : 1) - (plan.desiredOf(b) === 'running' ? 0 : 1) ||
    createdMs(a) - createdMs(b) ||
    (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0);
}

/**
 * Tasks in the slot that are being stopped but may still be running: not
 * terminal, and either seen by an agent on a node that is neither down nor
 * removed, or (for a task created by this very decision) stopped only by this
 * decision while no agent has seen it yet: the scheduler may still place it
 * and its agent start it before this batch commits. Once the stop is
 * committed an unplaced task can never start (agents do not start a task
 * desired past running), so a later reconcile does not wait for it.
 * A replacement waits for these (or for oldTaskTimeoutMs).
 */
export function stopping(sc: ServiceCtx, tasks: readonly Task[], opts: { except?: Task; forNewTask: boolean }): Task[] {
  const { plan, nodes } = sc.ctx;
  return tasks.filter((o) => {
    if (o === opts.except || plan.isLive(o) || plan.isDeleted(o) || isTerminal(plan.statusOf(o))) return false;
    if (neverRan(o)) return opts.forNewTask && isLiveDesired(o.DesiredState);
    return nodes.mayRun(o.NodeID);
  });
}

export function processSlot(sc: ServiceCtx, input: SlotInput): SlotState {
  const { plan, nodes } = sc.ctx;
  const g = plan.group();
  const tasks = input.tasks.length > 1 ? [...input.tasks].sort(newestFirst) : [...input.tasks];
  const st: SlotState = { ...input, tasks, group: g, keeper: null, startFirstOld: null, created: [] };

  for (const t of tasks) {
    if (!plan.isDead(t) && nodes.isGone(t.NodeID)) {
      if (input.wanted && plan.isLive(t) && !isTerminal(plan.statusOf(t))) g.stats.nodeDownReschedules++;
      plan.orphan(g, t);
    }
  }
  if (!input.wanted) {
    for (const t of tasks) if (plan.isLive(t)) plan.shutdown(g, t);
    return st;
  }

  const healthy: Task[] = [];
  const exitedNow = new Set<Task>();
  for (const t of tasks) {
    if (!plan.isLive(t)) continue;
    const status = plan.statusOf(t);
    if (isTerminal(status)) {
      exitedNow.add(t);
      // A job's finished task keeps 'complete' as its desired state (SwarmKit).
      plan.shutdown(g, t, sc.job && status === 'complete' ? 'complete' : 'shutdown');
      continue;
    }
    if (!sc.isCurrent(t)) {
      // A job started again (a new spec): its previous run's tasks stop, and the slot starts over.
      plan.shutdown(g, t);
      continue;
    }
    const loss = lossOf(sc, t);
    if (loss === null) {
      healthy.push(t);
      continue;
    }
    if (loss === 'drained') g.stats.drainReschedules++;
    else g.stats.nodeDownReschedules++;
    plan.shutdown(g, t);
  }

  if (healthy.length > 0) {
    chooseKeeper(sc, st, healthy);
  } else if (input.canCreate) {
    fill(sc, st, exitedNow);
  }
  return st;
}

function chooseKeeper(sc: ServiceCtx, st: SlotState, healthy: Task[]): void {
  const { plan } = sc.ctx;
  const g = st.group;
  const clean = healthy.filter((t) => sc.isClean(t)).sort(bestFirst(sc));
  const dirty = healthy.filter((t) => !sc.isClean(t)).sort(bestFirst(sc));
  if (clean.length === 0) {
    st.keeper = dirty[0]!;
    for (const t of dirty.slice(1)) plan.shutdown(g, t);
    return;
  }
  st.keeper = clean[0]!;
  for (const t of clean.slice(1)) plan.shutdown(g, t);
  if (dirty.length === 0) return;
  // Start-first keeps one old copy serving until the new one reports running;
  // stop-first (or a new copy that already runs) stops the old ones now.
  if (sc.update.config.order === 'start-first' && plan.statusOf(st.keeper) !== 'running') {
    st.startFirstOld = dirty[0]!;
    for (const t of dirty.slice(1)) plan.shutdown(g, t);
  } else {
    for (const t of dirty) plan.shutdown(g, t);
  }
}

/** The slot has no live copy: start one, unless the newest task exited and its restart policy says no. */
function fill(sc: ServiceCtx, st: SlotState, exitedNow: Set<Task>): void {
  const { plan, nodes, now, opts } = sc.ctx;
  const g = st.group;
  // A job's slot starts over in each run: an earlier run's task is no cause to restart (or not).
  const cause = st.tasks[0] !== undefined && sc.isCurrent(st.tasks[0]) ? st.tasks[0] : undefined;
  let reason: 'create' | 'restart' | 'reschedule' = 'create';
  let startAfter = now;
  let counts = { restarts: 0, times: [] as number[] };
  if (cause !== undefined) {
    const sameSpec = sc.isClean(cause);
    const status = plan.statusOf(cause);
    // A job's slot is done once its task of this run completed: the orchestrator's rule, not
    // left to the restart policy (the API refuses `any` for jobs, but the rule must not rest on it).
    if (sc.job && status === 'complete') return;
    if (exitedOnItsOwn(status)) {
      const exitMs = plan.orchestrationOf(cause).ExitedMs ?? endedMs(cause);
      if (!shouldRestart(cause, exitMs, opts)) {
        if (exitedNow.has(cause)) g.stats.restartsSuppressed++;
        return;
      }
      reason = 'restart';
      // SwarmKit: no restart delay for a task that was on a drained node.
      const delay = nodes.isDrained(cause.NodeID) ? 0 : restartPolicy(cause.Spec, opts).delayMs;
      // A task that exited while still waiting out its own delay waits that out first (no tight loops).
      if (delay > 0) startAfter = Math.max(now, cause.Orchestration?.StartAfterMs ?? 0) + delay;
      if (status === 'rejected' && delay > 0) {
        // Rejected: its agent could not even prepare it (no such image, no such program). Agents prepare a
        // task as soon as it is assigned, a delayed ('ready') one included, so a replacement created now
        // would be rejected now, and its own replacement too: a new task every few hundred ms, each with a
        // later start, for as long as the cause lasts. So the replacement is only created once the delay is
        // over, counted from the exit (ExitedMs is recorded once, so every reconcile computes the same time).
        const due = Math.max(exitMs, cause.Orchestration?.StartAfterMs ?? 0) + delay;
        if (due > now) {
          plan.wakeAt(due);
          return;
        }
        startAfter = due;
      }
      counts = nextCounts(cause, sameSpec, true, now, opts, sc.template);
    } else {
      reason = status === 'orphaned' || lossOf(sc, cause) !== null ? 'reschedule' : 'create';
      counts = nextCounts(cause, sameSpec, false, now, opts, sc.template);
    }
  }
  const blocked = stopping(sc, st.tasks, { forNewTask: true }).length > 0;
  const desired = startAfter <= now && !blocked ? 'running' : 'ready';
  const t = sc.newTask(st.slot, st.nodeId, desired, {
    Reason: reason,
    StartAfterMs: startAfter,
    Restarts: counts.restarts,
    RestartTimesMs: counts.times,
  }, st.tasks);
  plan.create(g, t);
  st.keeper = t;
  st.created.push(t);
  if (desired === 'ready') {
    plan.wakeAt(startAfter);
    if (blocked) plan.wakeAt(now + opts.oldTaskTimeoutMs);
  }
}

/**
 * Move a delayed keeper to 'running' once its restart delay is over and its
 * predecessors stopped (or stopped answering for oldTaskTimeoutMs).
 */
export function promote(sc: ServiceCtx, st: SlotState): void {
  const { plan, now, opts } = sc.ctx;
  const k = st.keeper;
  if (k === null || st.created.includes(k) || !plan.isLive(k) || plan.desiredOf(k) !== 'ready') return;
  const startAfter = k.Orchestration?.StartAfterMs ?? 0;
  if (startAfter > now) {
    plan.wakeAt(startAfter);
    return;
  }
  const giveUpAt = createdMs(k) + opts.oldTaskTimeoutMs;
  if (stopping(sc, st.tasks, { except: k, forNewTask: false }).length > 0 && now < giveUpAt) {
    plan.wakeAt(giveUpAt);
    return;
  }
  plan.setDesired(st.group, k, 'running');
}

/**
 * The slot invariant, on the state this decision produces: one live copy
 * (desired ready or running, not terminal), or two in a start-first window
 * (the kept old copy and the new one). Whatever the input (even a slot with
 * duplicates from a repeated batch), the output must satisfy it.
 */
export function assertSlot(sc: ServiceCtx, st: SlotState): void {
  const plan = sc.ctx.plan;
  const live = [...st.tasks, ...st.created].filter((t) => plan.isLive(t) && !isTerminal(plan.statusOf(t)));
  if (live.length <= 1) return;
  assert(
    live.length === 2 && st.startFirstOld !== null && live.includes(st.startFirstOld) && st.keeper !== null && live.includes(st.keeper),
    () => `orchestrator bug: slot ${st.slot || st.nodeId} of service ${sc.service.ID} would keep ${live.length} live copies (${live.map((t) => t.ID).join(', ')})`,
  );
}

