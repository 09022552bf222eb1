/**
 * The decision being built: actions grouped per slot, plus an overlay of what
 * they change, so later phases (update batches, delayed starts, history
 * pruning) see the state the batch will produce rather than the stale view.
 *
 * Groups are the unit of truncation: a slot's shutdown and its replacement
 * always land in the same batch, so a decision cut at maxActions is still a
 * consistent set of changes.
 */
import { assert } from '../../util/assert.js';
import type { Service, ServiceSpec, Task, TaskOrchestration, TaskState, UpdateStatus } from '../../model/index.js';
import type { Action } from './interface.js';
import { addCounts, emptyStats } from './metrics.js';
import type { DecisionStats } from './metrics.js';
import { isDead, isLiveDesired } from './model.js';

type UpdateTaskAction = Extract<Action, { type: 'updateTask' }>;

export class Group {
  readonly actions: Action[] = [];
  private counts: DecisionStats | undefined;
  /** Counted per group so a truncated decision reports only what it emits (made on first use: most slots count nothing). */
  get stats(): DecisionStats {
    return (this.counts ??= emptyStats());
  }
  get hasStats(): boolean {
    return this.counts !== undefined;
  }
}

export class Plan {
  private readonly problems: string[] = [];
  private readonly groups: Group[] = [];
  private readonly desired = new Map<string, TaskState>();
  private readonly status = new Map<string, TaskState>();
  private readonly orch = new Map<string, Partial<TaskOrchestration>>();
  private readonly pending = new Map<string, { group: Group; action: UpdateTaskAction }>();
  private readonly deleted = new Set<string>();
  private wake: number | null = null;

  constructor(readonly now: number) {}

  /** A new group, last, or just before `before` (service-level changes go ahead of their slots). */
  group(before?: Group): Group {
    const g = new Group();
    const i = before === undefined ? -1 : this.groups.indexOf(before);
    if (i < 0) this.groups.push(g);
    else this.groups.splice(i, 0, g);
    return g;
  }

  // ------------------------------------------------------------ overlay reads

  desiredOf(t: Task): TaskState {
    return this.desired.get(t.ID) ?? t.DesiredState;
  }
  statusOf(t: Task): TaskState {
    return this.status.get(t.ID) ?? t.Status.State;
  }
  orchestrationOf(t: Task): Partial<TaskOrchestration> {
    const o = this.orch.get(t.ID);
    return o ? { ...t.Orchestration, ...o } : (t.Orchestration ?? {});
  }
  isLive(t: Task): boolean {
    return !this.deleted.has(t.ID) && isLiveDesired(this.desiredOf(t));
  }
  isDead(t: Task): boolean {
    return isDead(this.view(t));
  }
  /** The task as it will be once this decision applies. */
  view(t: Task): Task {
    const d = this.desired.get(t.ID);
    const s = this.status.get(t.ID);
    const o = this.orch.get(t.ID);
    if (d === undefined && s === undefined && o === undefined) return t;
    return {
      ...t,
      DesiredState: d ?? t.DesiredState,
      Status: s === undefined ? t.Status : { ...t.Status, State: s },
      Orchestration: o === undefined ? t.Orchestration : ({ ...t.Orchestration, ...o } as Task['Orchestration']),
    };
  }
  isDeleted(t: Task): boolean {
    return this.deleted.has(t.ID);
  }

  // ---------------------------------------------------------------- changes

  private patch(g: Group, t: Task): UpdateTaskAction {
    assert(!this.deleted.has(t.ID), () => `patching deleted task ${t.ID}`);
    let p = this.pending.get(t.ID);
    if (!p) {
      p = { group: g, action: { type: 'updateTask', id: t.ID, version: t.Version.Index } };
      g.actions.push(p.action);
      this.pending.set(t.ID, p);
    }
    return p.action;
  }

  setDesired(g: Group, t: Task, d: TaskState): void {
    if (this.desiredOf(t) === d) return;
    this.patch(g, t).desiredState = d;
    this.desired.set(t.ID, d);
    if (!isLiveDesired(d)) g.stats.shutdown++;
    else if (d === 'running') g.stats.started++;
  }

  /** Stop a live task. An exited one also gets its exit time recorded (restart windows, update monitors). */
  shutdown(g: Group, t: Task, to: 'shutdown' | 'remove' | 'complete' = 'shutdown'): void {
    assert(this.isLive(t), () => `shutdown of task ${t.ID} that is not live`);
    this.setDesired(g, t, to);
    if (isDead(t) && t.Orchestration?.ExitedMs === undefined) this.setOrchestration(g, t, { ExitedMs: this.now });
  }

  setOrchestration(g: Group, t: Task, o: Partial<TaskOrchestration>): void {
    const a = this.patch(g, t);
    a.orchestration = { ...a.orchestration, ...o };
    this.orch.set(t.ID, { ...this.orch.get(t.ID), ...o });
  }

  /** Its node was removed: nobody will ever report on it again. */
  orphan(g: Group, t: Task): void {
    const a = this.patch(g, t);
    a.status = { State: 'orphaned', Message: 'node removed from the cluster', Timestamp: new Date(this.now).toISOString() };
    this.status.set(t.ID, 'orphaned');
    g.stats.orphaned++;
    if (this.isLive(t)) this.setDesired(g, t, 'shutdown');
  }

  create(g: Group, t: Task): void {
    g.actions.push({ type: 'createTask', task: t });
    const r = t.Orchestration?.Reason ?? 'create';
    g.stats.created[r]++;
  }

  delete(g: Group, t: Task): void {
    if (this.deleted.has(t.ID)) return;
    const p = this.pending.get(t.ID);
    if (p) {
      // A delete supersedes this decision's own patch of the task.
      const i = p.group.actions.indexOf(p.action);
      if (i >= 0) p.group.actions.splice(i, 1);
      this.pending.delete(t.ID);
    }
    g.actions.push({ type: 'deleteTask', id: t.ID, version: t.Version.Index });
    this.deleted.add(t.ID);
    g.stats.deleted++;
  }

  updateService(g: Group, s: Service, change: { updateStatus?: UpdateStatus; spec?: ServiceSpec; previousSpec?: ServiceSpec | null }): void {
    g.actions.push({ type: 'updateService', id: s.ID, version: s.Version.Index, ...change });
  }

  wakeAt(ms: number): void {
    if (!Number.isFinite(ms)) return;
    // Anything due already is decided now; a wake-up in the past would spin.
    if (ms <= this.now) return;
    if (this.wake === null || ms < this.wake) this.wake = ms;
  }

  problem(line: string): void {
    this.problems.push(line);
  }

  /** The actions, cut after the group that reaches maxActions (never inside one). */
  finish(maxActions: number): { actions: Action[]; wakeAt: number | null; stats: DecisionStats } {
    const actions: Action[] = [];
    const stats = emptyStats();
    stats.problems.push(...this.problems);
    let truncated = false;
    for (const g of this.groups) {
      if (g.actions.length === 0) continue;
      if (actions.length > 0 && actions.length + g.actions.length > maxActions) {
        truncated = true;
        break;
      }
      for (const a of g.actions) actions.push(a);
      if (g.hasStats) addCounts(stats, g.stats);
    }
    if (truncated) {
      stats.truncated = 1;
      return { actions, wakeAt: this.now, stats };
    }
    return { actions, wakeAt: this.wake, stats };
  }
}

