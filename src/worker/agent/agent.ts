import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { isTerminal, type Task, type TaskState } from '../../model/index.js';
import type { Runtime } from '../runtime/interface.js';
import { runtimeFor } from './run-spec.js';
import { TaskController } from './task-controller.js';
import { TaskDb, type TaskStore } from './task-db.js';
import type { AgentOptions } from './options.js';
import { systemTimers } from '../../util/timers.js';
import type { SecretItem } from '../../protocol/dispatcher.js';
import { defaultSecretsRoot, SecretFiles } from './secret-files.js';
import { countReport, newAgentMetrics, type AgentMetrics } from './metrics.js';
import { TASK_END_MESSAGE } from './task-messages.js';
import type { TaskStatus } from '../../model/index.js';
import { componentLogger, type Logger } from '../../util/log/interface.js';

export type { AgentOptions } from './options.js';


/**
 * The task side of a node: applies assignments from the dispatcher session
 * (through a TaskController per task), keeps the local task db, and on
 * restart re-adopts what the runtimes still run — never starting a second
 * copy of a task it already runs.
 */
export class Agent {
  readonly metrics: AgentMetrics = newAgentMetrics();
  private readonly controllers = new Map<string, TaskController>();
  private readonly forgetting = new Set<string>();
  private readonly forgets = new Set<Promise<void>>();
  private stopped = false;
  private readonly secrets: SecretFiles;
  private readonly log: Logger;
  private constructor(
    private readonly opts: AgentOptions,
    private readonly db: TaskStore,
  ) {
    this.log = componentLogger(opts.log, 'agent');
    this.secrets = new SecretFiles(opts.secretsRoot ?? defaultSecretsRoot(opts.nodeId), this.log);
  }

  static async start(opts: AgentOptions): Promise<Agent> {
    if (!opts.taskStore) mkdirSync(opts.dataDir, { recursive: true });
    const db = opts.taskStore ?? (await TaskDb.open(path.join(opts.dataDir, 'agent.sqlite')));
    const a = new Agent(opts, db);
    await a.readopt();
    return a;
  }

  /** The runtimes this node has, its default first (the managers read the default from there: Node.Description.Runtimes). */
  runtimeNames(): string[] {
    const names = [...this.opts.runtimes.keys()];
    return names.includes(this.opts.defaultRuntime) ? [this.opts.defaultRuntime, ...names.filter((n) => n !== this.opts.defaultRuntime)] : names;
  }

  /** Tasks this node currently tracks (for logs and tests). */
  tasks(): Task[] {
    return [...this.controllers.values()].map((c) => c.task);
  }

  /**
   * Every task tracked here with the state its controller has it in: what
   * this node knows first-hand (a task's Status as the managers sent it is
   * the one it was assigned with, since the dispatcher does not send a
   * node's own reports back).
   */
  tracked(): { task: Task; state: TaskState }[] {
    return [...this.controllers.values()].map((c) => ({ task: c.task, state: c.state }));
  }

  controller(taskId: string): TaskController | undefined {
    return this.controllers.get(taskId);
  }

  runtimeOf(taskId: string): Runtime | undefined {
    const c = this.controllers.get(taskId);
    return c ? this.opts.runtimes.get(runtimeFor(c.task, this.opts.defaultRuntime)) : undefined;
  }

  /** The runtime holding a task, including finished tasks the agent no longer tracks (their logs). */
  async findRuntime(taskId: string): Promise<Runtime | undefined> {
    const known = this.runtimeOf(taskId);
    if (known) return known;
    for (const r of this.opts.runtimes.values()) if (await r.inspect(taskId).catch(() => null)) return r;
    return undefined;
  }

  private wall(): number {
    return (this.opts.timers ?? systemTimers).wall();
  }

  /** Every status this agent sends goes through here: counted, then to the session. */
  private report(updates: { taskId: string; status: TaskStatus }[]): void {
    for (const u of updates) countReport(this.metrics, u.status);
    this.opts.report(updates);
  }


  private make(task: Task, state = task.Status.State, created = false): TaskController | null {
    const name = runtimeFor(task, this.opts.defaultRuntime);
    const runtime = this.opts.runtimes.get(name);
    if (!runtime) {
      this.report([
        {
          taskId: task.ID,
          status: { Timestamp: new Date(this.wall()).toISOString(), State: 'rejected', Message: 'runtime unavailable', Err: `runtime ${name} is not available on this node (have: ${this.runtimeNames().join(', ') || 'none'})` },
        },
      ]);
      return null;
    }
    const c = new TaskController(
      {
        runtime,
        db: this.db,
        report: (taskId, status, again) => (again ? this.opts.report([{ taskId, status }]) : this.report([{ taskId, status }])),
        log: this.log,
        alive: () => !this.stopped,
        wall: () => this.wall(),
        timers: this.opts.timers ?? systemTimers,
        secrets: this.secrets,
        ...(this.opts.networks ? { networks: this.opts.networks } : {}),
      },
      { id: task.ID, task, runtime: name, state, created, updatedMs: this.wall() },
    );
    this.controllers.set(task.ID, c);
    return c;
  }

  /** After a restart: what the db says we ran, checked against what the runtimes still hold. */
  private async readopt(): Promise<void> {
    for (const local of await this.db.all()) {
      const runtime = this.opts.runtimes.get(local.runtime);
      const c = this.make(local.task, local.state, local.created);
      if (!c || !runtime) continue;
      const info = local.created ? await runtime.inspect(local.id).catch(() => null) : null;
      if (info) {
        this.log.info({ task: local.id, service: local.task.ServiceID }, `re-adopting task ${local.id} (${info.state})`);
        c.adopt(info);
      } else if (local.created && !isTerminal(local.state)) {
        // The runtime lost it (e.g. the machine rebooted): say so; the orchestrator replaces it.
        this.report([{ taskId: local.id, status: { Timestamp: new Date(this.wall()).toISOString(), State: 'failed', Message: TASK_END_MESSAGE.lost, Err: 'the runtime has no record of this task after an agent restart' } }]);
        c.state = 'failed';
      }
    }
  }

  /** From the dispatcher session: the full set after (re)connecting, increments after. */
  onAssignments(full: boolean, tasks: Task[], removed: string[]): void {
    if (this.stopped) return;
    const seen = new Set(tasks.map((t) => t.ID));
    for (const t of tasks) {
      if (this.forgetting.has(t.ID)) continue;
      const c = this.controllers.get(t.ID) ?? this.make(t);
      c?.update(t);
    }
    const gone = full ? [...this.controllers.keys()].filter((id) => !seen.has(id)) : removed;
    for (const id of gone) this.forget(id);
    // Data only for the tasks still tracked here (the dispatcher re-sends on a full set).
    this.secrets.prune(this.tasks());
  }

  /** Secret and config data for the assignments that follow (memory only; tmpfs when a task prepares). */
  onSecrets(items: SecretItem[]): void {
    if (!this.stopped) this.secrets.put(items);
  }

  /** The node stops with its tasks: every task's secret tmpfs goes too. */
  releaseSecrets(): Promise<void> {
    return this.secrets.releaseAll();
  }

  /**
   * The managers no longer list the task: a terminal one is cleaned up; a
   * live one is stopped — the managers do not want it to run anymore.
   */
  private forget(id: string): void {
    const c = this.controllers.get(id);
    if (!c || this.forgetting.has(id)) return;
    this.forgetting.add(id);
    const p = c
      .forget()
      .catch((err: Error) => this.log.warn({ task: id }, `forgetting ${id}: ${err.message}`))
      .finally(() => {
        this.controllers.delete(id);
        this.forgetting.delete(id);
        this.forgets.delete(p);
      });
    this.forgets.add(p);
  }

  /** Stops tracking (tasks keep running under their supervisor; a restarted agent re-adopts them). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.controllers.values()].map((c) => c.settled().catch(() => {})));
    await Promise.all([...this.forgets]);
    await this.db.close();
  }
}
