import { mkdirSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerInfo, ExitStatus, LogLine, LogOptions, TaskRunSpec } from '../interface.js';
import { RuntimeError } from '../interface.js';
import { readJson, writeJsonAtomic } from './atomic.js';
import { readLogFiles } from './log-reader.js';
import type { LogRotation } from './log-format.js';
import { signalName } from './signals.js';
import { F, taskDir, taskFile, tasksRoot, type ExitRecord, type LaunchSpec, type StartedRecord } from './task-dir.js';
import { SupervisorClient } from '../../supervisor/client.js';
import { SupervisorError } from '../../supervisor/errors.js';
import type { Logger } from '../../../util/log/interface.js';

/**
 * What the process and oci runtimes share: tasks run by the node's task
 * supervisor (supervisor/), known through their state directory
 * (task-dir.ts) and the supervisor's events. Everything durable is in the
 * files, so a Runtime created after an agent restart sees exactly what the
 * one before it saw; what runs is what the supervisor holds. The
 * runtime-specific parts come in as hooks.
 */

/** info.json: written last by create(), so its presence means "created". */
export interface BaseInfo {
  taskId: string;
  runtimeId: string;
  createdAt: string;
  warnings: string[];
}

export interface SupervisedHooks<I extends BaseInfo> {
  /**
   * The task's supervisor died and the task's main process with it: end
   * whatever it may have left (a process task's background children in its
   * cgroup, an oci container whose runtime process was killed).
   */
  sweep(dir: string, info: I): void | Promise<void>;
  /** Release the task's resources (cgroups, container state, mounts) before its directory goes. */
  cleanup(dir: string, info: I): void | Promise<void>;
}

export interface SupervisedOptions {
  stateDir: string;
  rotation: LogRotation;
  /** The node's supervisor; without one, a private supervisor under <stateDir>/supervisor (tests, standalone runtimes). */
  supervisor?: SupervisorClient;
  log?: Logger;
}

export interface TaskFiles<I extends BaseInfo> {
  dir: string;
  spec: TaskRunSpec;
  info: I;
  started?: StartedRecord;
  exit?: ExitRecord;
}

export class SupervisedTasks<I extends BaseInfo> {
  readonly supervisor: SupervisorClient;
  private readonly waiters = new Map<string, ((e: ExitRecord) => void)[]>();

  constructor(
    private readonly opts: SupervisedOptions,
    private readonly hooks: SupervisedHooks<I>,
  ) {
    this.supervisor =
      opts.supervisor ??
      new SupervisorClient({ dir: path.join(opts.stateDir, 'supervisor'), roots: [tasksRoot(opts.stateDir)], rotation: opts.rotation, keepAlive: false, ...(opts.log ? { log: opts.log } : {}) });
    this.supervisor.subscribe({
      exited: (taskId, exit) => this.settle(taskId, exit),
      lost: (loss) => {
        for (const id of loss.tasks) void this.recordLoss(id, loss.exit);
      },
    });
  }

  dir(taskId: string): string {
    checkTaskId(taskId);
    return taskDir(this.opts.stateDir, taskId);
  }

  /** A fresh, empty task directory for create() (a leftover without info.json is a create() that crashed). */
  prepareDir(taskId: string): string {
    const dir = this.dir(taskId);
    mkdirSync(path.join(dir, F.logs), { recursive: true });
    return dir;
  }

  /**
   * create()'s last step: spec, launch and then info.json, which makes the
   * task exist. Not fsynced: rename keeps each file whole for the other
   * processes that read it, and after a power loss no task runs anyway (the
   * agent's task db, which is synchronous, says what to do about that).
   */
  commit(dir: string, spec: TaskRunSpec, launch: LaunchSpec, info: I): void {
    writeJsonAtomic(taskFile(dir, 'spec'), spec, false);
    writeJsonAtomic(taskFile(dir, 'launch'), launch, false);
    writeJsonAtomic(taskFile(dir, 'info'), info, false);
  }

  read(taskId: string): TaskFiles<I> | null {
    const dir = this.dir(taskId);
    const info = readJson<I>(taskFile(dir, 'info'));
    const spec = readJson<TaskRunSpec>(taskFile(dir, 'spec'));
    if (!info || !spec) return null;
    return { dir, spec, info, started: readJson<StartedRecord>(taskFile(dir, 'started')), exit: readJson<ExitRecord>(taskFile(dir, 'exit')) };
  }

  mustRead(taskId: string): TaskFiles<I> {
    const t = this.read(taskId);
    if (!t) throw new RuntimeError('NOT_FOUND', `no task ${taskId} on this node`);
    return t;
  }

  /**
   * The task's state. Started and not exited is running while the
   * supervisor holds it; a supervisor that no longer holds it died (and the
   * task with it) without writing exit.json: that is recorded once, so every
   * later reader sees the same answer.
   */
  async state(t: TaskFiles<I>): Promise<ContainerInfo> {
    const base: ContainerInfo = { taskId: t.info.taskId, runtimeId: t.info.runtimeId, state: 'created' };
    if (t.info.warnings.length) base.warnings = t.info.warnings;
    if (t.started) {
      base.pid = t.started.pid;
      base.startedAt = t.started.startedAt;
    }
    if (t.exit) return { ...base, state: 'exited', exit: t.exit };
    if (!t.started) return base;
    if (this.supervisor.holds(t.info.taskId)) return { ...base, state: 'running' };
    // Ask afresh (the held set may lag a start that just finished), then re-read: it may have exited just now.
    const held = (await this.supervisor.hello()).held.some((h) => h.taskId === t.info.taskId);
    if (held) return { ...base, state: 'running' };
    const exit = readJson<ExitRecord>(taskFile(t.dir, 'exit'));
    if (exit) return { ...base, state: 'exited', exit };
    // It ended with its supervisor. A fence after the task started explains it (the kill was the fence's).
    const started = t.started ? Date.parse(t.started.startedAt) : Infinity;
    const fenced = this.supervisor.fenceNotes().find((n) => Date.parse(n.at) >= started)?.why ?? null;
    const lost: ExitRecord = { exitCode: 137, signal: 'SIGKILL', oomKilled: false, finishedAt: new Date().toISOString(), message: fenced ?? 'the task supervisor died, and the task with it' };
    await this.recordLoss(t.info.taskId, lost);
    return { ...base, state: 'exited', exit: readJson<ExitRecord>(taskFile(t.dir, 'exit')) ?? lost };
  }

  async inspect(taskId: string): Promise<ContainerInfo | null> {
    const t = this.read(taskId);
    return t ? this.state(t) : null;
  }

  async list(): Promise<ContainerInfo[]> {
    const out: ContainerInfo[] = [];
    for (const n of this.ids()) {
      const t = this.read(n);
      if (t) out.push(await this.state(t));
    }
    return out;
  }

  /** The IDs of every task directory, sorted; nothing asked of the supervisor (which may be gone). */
  ids(): string[] {
    try {
      return readdirSync(tasksRoot(this.opts.stateDir)).filter(validTaskId).sort();
    } catch {
      return [];
    }
  }

  /** Asks the supervisor to run the task; resolves once it runs. A task starts once. */
  async start(taskId: string): Promise<void> {
    const t = this.mustRead(taskId);
    if (t.exit) throw new RuntimeError('FAILED', `task ${taskId} has already run (exit ${t.exit.exitCode}); a task starts once`);
    try {
      await this.supervisor.start(taskId, t.dir);
    } catch (err) {
      if (err instanceof SupervisorError) throw new RuntimeError(err.code === 'BAD_TASK' ? 'INVALID_SPEC' : err.code === 'UNAVAILABLE' ? 'UNAVAILABLE' : err.code === 'NO_LEASE' ? 'NO_LEASE' : 'FAILED', err.message.replace(/^[A-Z_]+: /, ''));
      throw err;
    }
  }

  /** Resolves with the exit status once the task exits (at once if it has). */
  async wait(taskId: string): Promise<ExitStatus> {
    const t = this.mustRead(taskId);
    const release = this.supervisor.hold();
    const p = new Promise<ExitStatus>((resolve) => {
      const list = this.waiters.get(taskId) ?? [];
      list.push((e) => {
        release();
        resolve(e);
      });
      this.waiters.set(taskId, list);
    });
    // Registered first, then checked: an exit between the two is not missed.
    const s = await this.state(t);
    if (s.state === 'exited') this.settle(taskId, s.exit!);
    return p;
  }

  /** Resolves true once the task has exited, false after timeoutMs. */
  async waitExited(taskId: string, timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    try {
      return await Promise.race([this.wait(taskId).then(() => true as const), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private settle(taskId: string, exit: ExitRecord): void {
    const list = this.waiters.get(taskId);
    if (!list) return;
    this.waiters.delete(taskId);
    for (const w of list) w(exit);
  }

  /** The supervisor died with the task: sweep what it left, record the exit once, wake waiters. */
  private async recordLoss(taskId: string, exit: ExitRecord): Promise<void> {
    const t = this.read(taskId);
    if (!t) return;
    if (!t.exit) {
      await Promise.resolve(this.hooks.sweep(t.dir, t.info)).catch(() => {});
      // Not fsynced: the agent's task db records the end durably; this file only has to be whole.
      if (!readJson<ExitRecord>(taskFile(t.dir, 'exit'))) writeJsonAtomic(taskFile(t.dir, 'exit'), exit, false);
    }
    this.settle(taskId, readJson<ExitRecord>(taskFile(t.dir, 'exit')) ?? exit);
  }

  /** Asks the supervisor to deliver a signal (race-free: it is the task's parent). */
  async signal(taskId: string, sig: NodeJS.Signals): Promise<void> {
    const t = this.mustRead(taskId);
    if ((await this.state(t)).state !== 'running') return;
    try {
      await this.supervisor.signal(taskId, sig);
    } catch (err) {
      throw new RuntimeError('FAILED', `task ${taskId}: ${(err as Error).message}`);
    }
  }

  async stop(taskId: string, graceMs: number): Promise<void> {
    const t = this.mustRead(taskId);
    const s = await this.state(t);
    if (s.state !== 'running') return; // created: nothing runs; exited: nothing to do
    const first = signalName(t.spec.stopSignal ?? 'SIGTERM') ?? 'SIGTERM';
    await this.signal(taskId, first);
    if (first !== 'SIGKILL' && (await this.waitExited(taskId, Math.max(0, graceMs)))) return;
    await this.signal(taskId, 'SIGKILL');
    if (!(await this.waitExited(taskId, 30_000))) throw new RuntimeError('FAILED', `task ${taskId} did not exit 30 s after SIGKILL`);
  }

  async remove(taskId: string): Promise<void> {
    const dir = this.dir(taskId);
    const t = this.read(taskId);
    if (t) {
      const s = await this.state(t);
      if (s.state === 'running') await this.stop(taskId, 0);
      await this.hooks.cleanup(dir, t.info);
    } else {
      // A create() that crashed half-way: its info is missing but the hook may still find resources.
      const info = readJson<I>(taskFile(dir, 'info'));
      if (info) await this.hooks.cleanup(dir, info);
    }
    // Off the event loop: a node removing hundreds of finished tasks must keep answering.
    await rm(dir, { recursive: true, force: true });
  }

  logs(taskId: string, opts: LogOptions): AsyncIterable<LogLine> {
    const dir = this.dir(taskId);
    const self = this;
    return (async function* () {
      self.mustRead(taskId);
      const finished = async () => {
        const now = self.read(taskId);
        return !now || (await self.state(now)).state === 'exited'; // removed under us counts as over
      };
      yield* readLogFiles(path.join(dir, F.logs), self.opts.rotation.maxFiles, opts, finished);
    })();
  }
}

const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function validTaskId(id: string): boolean {
  return TASK_ID.test(id) && id !== '.' && id !== '..';
}

/** Task IDs name directories and containers: keep them to a safe alphabet. */
export function checkTaskId(id: string): void {
  if (!validTaskId(id)) throw new RuntimeError('INVALID_SPEC', `task ID ${JSON.stringify(id)} must match ${TASK_ID.source}`);
}
