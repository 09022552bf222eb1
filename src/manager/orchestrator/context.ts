/**
 * What every part of one reconcile shares: the clock, the options, the plan
 * being built, and per service its resolved template and update settings.
 */
import { assert } from '../../util/assert.js';
import { inCurrentRun, jobIteration } from '../../model/index.js';
import type { Service, Task, TaskOrchestration, TaskSpec, TaskState, UpdateConfig, UpdateStatus } from '../../model/index.js';
import { OrchestratorError } from './errors.js';
import { createdMs, isoTime, NodeIndex, sameSpec } from './model.js';
import type { OrchestratorOptions } from './options.js';
import { nsToMs } from './options.js';
import type { Plan } from './plan.js';
import { hostPortsCurrent } from './host-ports.js';

export class Ctx {
  private readonly seen: Set<string>;

  constructor(
    readonly now: number,
    readonly opts: OrchestratorOptions,
    readonly plan: Plan,
    readonly nodes: NodeIndex,
    private readonly ids: () => string,
    existingIds: Iterable<string>,
  ) {
    this.seen = new Set(existingIds);
  }

  newId(): string {
    const id = this.ids();
    if (typeof id !== 'string' || id === '' || this.seen.has(id)) {
      throw new OrchestratorError('BAD_REQUEST', `id generator returned ${JSON.stringify(id)} (empty or already used)`);
    }
    this.seen.add(id);
    return id;
  }
}

export interface ResolvedUpdateConfig {
  /** 0 = all at once. */
  parallelism: number;
  delayMs: number;
  failureAction: 'pause' | 'continue' | 'rollback';
  monitorMs: number;
  maxFailureRatio: number;
  order: 'stop-first' | 'start-first';
}

export function resolveUpdateConfig(c: UpdateConfig | undefined, d: Required<UpdateConfig>): ResolvedUpdateConfig {
  const p = c?.Parallelism;
  const r = c?.MaxFailureRatio;
  const fa = c?.FailureAction;
  return {
    parallelism: p !== undefined && Number.isInteger(p) && p >= 0 ? p : d.Parallelism,
    delayMs: nsToMs(c?.Delay, nsToMs(d.Delay, 0)),
    failureAction: fa === 'pause' || fa === 'continue' || fa === 'rollback' ? fa : d.FailureAction,
    monitorMs: nsToMs(c?.Monitor, nsToMs(d.Monitor, 0)),
    maxFailureRatio: r !== undefined && Number.isFinite(r) && r >= 0 ? r : d.MaxFailureRatio,
    order: c?.Order === 'start-first' || c?.Order === 'stop-first' ? c.Order : d.Order,
  };
}

export type UpdateState = UpdateStatus['State'];

/** The direction of the service's current (or last) rolling update, from UpdateStatus. */
export interface UpdateMode {
  rollback: boolean;
  state: UpdateState | undefined;
  config: ResolvedUpdateConfig;
  /** The Reason the tasks of this update carry. */
  reason: 'update' | 'rollback';
  /** UpdateStatus.StartedAt (ms); tasks created before it belong to an earlier update. */
  startedAtMs: number;
}

export type ServiceKind = 'replicated' | 'global' | 'replicated-job' | 'global-job';

export class ServiceCtx {
  readonly template: TaskSpec;
  readonly update: UpdateMode;

  constructor(
    readonly ctx: Ctx,
    readonly service: Service,
    readonly kind: ServiceKind,
  ) {
    this.template = service.Spec.TaskTemplate ?? {};
    const state = service.UpdateStatus?.State;
    const rollback = state === 'rollback_started' || state === 'rollback_paused' || state === 'rollback_completed';
    const started = Date.parse(service.UpdateStatus?.StartedAt ?? '');
    this.update = {
      rollback,
      state,
      config: rollback
        ? resolveUpdateConfig(service.Spec.RollbackConfig, ctx.opts.rollbackDefaults)
        : resolveUpdateConfig(service.Spec.UpdateConfig, ctx.opts.updateDefaults),
      reason: rollback ? 'rollback' : 'update',
      startedAtMs: Number.isFinite(started) ? started : 0,
    };
  }

  /** Of the current spec, and, for a process task, holding host ports for the service's current ports (host-ports.ts). */
  isClean(t: Task): boolean {
    return sameSpec(t.Spec, this.template) && hostPortsCurrent(t, this.service, this.ctx.nodes.get(t.NodeID));
  }

  /** A job: its tasks run to completion, once per iteration (jobs.ts). */
  get job(): boolean {
    return this.kind === 'replicated-job' || this.kind === 'global-job';
  }

  /** A job's task belongs to the current run (JobStatus.JobIteration); every task of a service that is not a job does. */
  isCurrent(t: Task): boolean {
    return inCurrentRun(t, this.service);
  }

  /**
   * A new task of this service, made from the current template, for a slot
   * whose tasks are `slotTasks`. Its CreatedMs is later than every task
   * already in the slot (normally `now`, one ms more when several decisions
   * fall in the same ms), so "the slot's newest task" is never a tie decided
   * by random ids.
   */
  newTask(slot: number, nodeId: string, desired: TaskState, orchestration: Omit<TaskOrchestration, 'CreatedMs'>, slotTasks: readonly Task[]): Task {
    assert(desired === 'running' || desired === 'ready', 'new tasks are desired running or ready');
    const now = this.ctx.now;
    const at = isoTime(now);
    let created = now;
    for (const t of slotTasks) created = Math.max(created, createdMs(t) + 1);
    const o: TaskOrchestration = { ...orchestration, CreatedMs: created };
    if (o.StartAfterMs === undefined || o.StartAfterMs <= now) delete o.StartAfterMs;
    if (o.Restarts === 0) delete o.Restarts;
    if (o.RestartTimesMs !== undefined && o.RestartTimesMs.length === 0) delete o.RestartTimesMs;
    return {
      ID: this.ctx.newId(),
      Version: { Index: 0 },
      CreatedAt: at,
      UpdatedAt: at,
      // The template is copied, not shared: the task keeps the spec it was made from
      // whatever happens to the service object later.
      Spec: structuredClone(this.template),
      ServiceID: this.service.ID,
      Slot: slot,
      NodeID: nodeId,
      Status: { State: 'new', Timestamp: at, Message: 'created' },
      DesiredState: desired,
      SpecVersion: { Index: this.service.Version.Index },
      Orchestration: o,
      ...(this.job ? { JobIteration: { Index: jobIteration(this.service) } } : {}),
    };
  }
}
