import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, watch, writeSync } from 'node:fs';
import path from 'node:path';
import type { ContainerInfo, ExitStatus, LogLine, LogOptions, TaskRunSpec } from '../interface.js';
import { RuntimeError } from '../interface.js';
import { readJson, writeFileAtomic, writeJsonAtomic } from './atomic.js';
import { readLogFiles } from './log-reader.js';
import type { LogRotation } from './log-format.js';
import { isSameProcess, procRef, type ProcRef } from './proc.js';
import { signalName } from './signals.js';
import { checkShim } from './shim-path.js';
import { F, taskDir, taskFile, tasksRoot, type ExitRecord, type LaunchSpec, type ShimRecord, type StartedRecord } from './task-dir.js';

/**
 * What the process and oci runtimes share: tasks supervised by a shim and
 * known only through their state directory (task-dir.ts). Everything here
 * reads the files afresh, so a Runtime created after an agent restart sees
 * exactly what the one before it saw. The runtime-specific parts (building
 * the launch, signalling and cleaning up a task whose shim is gone) come in
 * as hooks.
 */

/** info.json: written last by create(), so its presence means "created". */
export interface BaseInfo {
  taskId: string;
  runtimeId: string;
  createdAt: string;
  warnings: string[];
}

export interface SupervisedHooks<I extends BaseInfo> {
  /** The shim is gone but exit.json is missing: is the task itself still running? */
  orphanAlive(dir: string, info: I, started: StartedRecord | undefined): boolean | Promise<boolean>;
  /** Deliver a signal without the shim. */
  signalOrphan(dir: string, info: I, started: StartedRecord | undefined, sig: NodeJS.Signals): void | Promise<void>;
  /** Release the task's resources (cgroups, container state, mounts) before its directory goes. */
  cleanup(dir: string, info: I): void | Promise<void>;
}

export interface SupervisedOptions {
  stateDir: string;
  shimPath: string;
  rotation: LogRotation;
  /** How long start() waits for the shim to report the task started. */
  startTimeoutMs?: number;
}

export interface TaskFiles<I extends BaseInfo> {
  dir: string;
  spec: TaskRunSpec;
  info: I;
  shim?: ShimRecord;
  started?: StartedRecord;
  exit?: ExitRecord;
}

export class SupervisedTasks<I extends BaseInfo> {
  constructor(
    private readonly opts: SupervisedOptions,
    private readonly hooks: SupervisedHooks<I>,
  ) {}

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

  /** create()'s last step: spec, launch and then info.json, which makes the task exist. */
  commit(dir: string, spec: TaskRunSpec, launch: LaunchSpec, info: I): void {
    writeJsonAtomic(taskFile(dir, 'spec'), spec);
    writeJsonAtomic(taskFile(dir, 'launch'), launch);
    writeJsonAtomic(taskFile(dir, 'info'), info);
  }

  read(taskId: string): TaskFiles<I> | null {
    const dir = this.dir(taskId);
    const info = readJson<I>(taskFile(dir, 'info'));
    const spec = readJson<TaskRunSpec>(taskFile(dir, 'spec'));
    if (!info || !spec) return null;
    return {
      dir,
      spec,
      info,
      shim: readJson<ShimRecord>(taskFile(dir, 'shim')),
      started: readJson<StartedRecord>(taskFile(dir, 'started')),
      exit: readJson<ExitRecord>(taskFile(dir, 'exit')),
    };
  }

  mustRead(taskId: string): TaskFiles<I> {
    const t = this.read(taskId);
    if (!t) throw new RuntimeError('NOT_FOUND', `no task ${taskId} on this node`);
    return t;
  }

  /**
   * The task's state, settling the one case the files alone leave open: the
   * shim died (kill -9, OOM of the node) without writing exit.json. If the
   * task is gone too, its status is lost: record exit 255 with the reason, so
   * every later reader sees the same answer.
   */
  async state(t: TaskFiles<I>): Promise<ContainerInfo> {
    const base: ContainerInfo = { taskId: t.info.taskId, runtimeId: t.info.runtimeId, state: 'created' };
    if (t.info.warnings.length) base.warnings = t.info.warnings;
    if (t.started) {
      base.pid = t.started.pid;
      base.startedAt = t.started.startedAt;
    }
    if (t.exit) return { ...base, state: 'exited', exit: t.exit };
    if (!t.shim && !t.started) return base;
    if (t.shim && isSameProcess(t.shim)) return { ...base, state: 'running' };
    // The shim is gone. It may have written exit.json just now.
    const exit = readJson<ExitRecord>(taskFile(t.dir, 'exit'));
    if (exit) return { ...base, state: 'exited', exit };
    if (!t.shim) return base; // spawned, not yet recorded itself: still starting
    if (await this.hooks.orphanAlive(t.dir, t.info, t.started)) return { ...base, state: 'running' };
    const lost: ExitRecord = {
      exitCode: 255,
      oomKilled: false,
      finishedAt: new Date().toISOString(),
      message: 'the task supervisor (shim) died; the exit status was lost',
    };
    writeJsonAtomic(taskFile(t.dir, 'exit'), lost);
    return { ...base, state: 'exited', exit: lost };
  }

  async inspect(taskId: string): Promise<ContainerInfo | null> {
    const t = this.read(taskId);
    return t ? this.state(t) : null;
  }

  async list(): Promise<ContainerInfo[]> {
    let names: string[];
    try {
      names = readdirSync(tasksRoot(this.opts.stateDir));
    } catch {
      return [];
    }
    const out: ContainerInfo[] = [];
    for (const n of names.sort()) {
      if (!validTaskId(n)) continue;
      const t = this.read(n);
      if (t) out.push(await this.state(t));
    }
    return out;
  }

  /**
   * Starts the shim, then waits until it reports the task running (or already
   * exited). One shim per task, even with concurrent start() calls: the first
   * to create start.lock (O_EXCL) spawns it, the others wait for it. A lock
   * left by a starter that died before its shim recorded itself is taken over.
   */
  async start(taskId: string): Promise<void> {
    const t = this.mustRead(taskId);
    if (t.exit) throw new RuntimeError('FAILED', `task ${taskId} has already run (exit ${t.exit.exitCode}); a task starts once`);
    const timeoutMs = this.opts.startTimeoutMs ?? 15_000;
    const reported = () => existsSync(taskFile(t.dir, 'started')) || existsSync(taskFile(t.dir, 'exit'));
    if (!t.shim && this.takeStartLock(t.dir)) {
      checkShim(this.opts.shimPath);
      const child = spawn(process.execPath, ['--max-old-space-size=32', '--max-semi-space-size=1', this.opts.shimPath, t.dir], {
        detached: true, // its own session: it survives the agent, and the agent's terminal signals
        stdio: 'ignore',
        cwd: '/',
        // Not the agent's environment: NODE_OPTIONS (loaders, inspectors) must not reach the shim.
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      });
      child.unref();
      let shimGone = false;
      child.once('exit', () => (shimGone = true));
      child.once('error', () => (shimGone = true));
      const ok = await this.until(t.dir, () => reported() || shimGone, timeoutMs, 50);
      if (!ok || !reported()) throw new RuntimeError('FAILED', `task ${taskId}: the supervisor did not start it: ${this.shimLog(t.dir) || 'no diagnostics'}`);
    } else {
      // Another start() spawned the shim (or is about to): wait for it to report.
      const ok = await this.until(t.dir, () => reported() || (!!readJson<ShimRecord>(taskFile(t.dir, 'shim')) && !isSameProcess(readJson<ShimRecord>(taskFile(t.dir, 'shim')))), timeoutMs);
      if (!ok) throw new RuntimeError('FAILED', `task ${taskId}: another start is in progress and its supervisor has not reported within ${timeoutMs} ms`);
    }
    const after = this.mustRead(taskId);
    if (!after.started && after.exit) {
      const why = after.exit.message ?? (await this.lastLines(taskId, 5)) ?? `exit code ${after.exit.exitCode}`;
      throw new RuntimeError('FAILED', `task ${taskId} did not start: ${why}`);
    }
  }

  /** True if we may spawn the shim: we created start.lock, or took over one whose starter died before any shim ran. */
  private takeStartLock(dir: string): boolean {
    const lock = path.join(dir, 'start.lock');
    const me = procRef(process.pid);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(lock, 'wx');
        writeSync(fd, `${process.pid} ${me?.startTime ?? ''}\n`);
        closeSync(fd);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let holder: ProcRef | null = null;
      try {
        const [pid, startTime] = readFileSync(lock, 'utf8').trim().split(' ');
        holder = { pid: Number(pid), startTime: startTime ?? '' };
      } catch {
        /* vanished: retry */
      }
      if (holder && isSameProcess(holder)) return false; // a live starter: let it
      if (existsSync(taskFile(dir, 'shim'))) return false; // a shim exists: it started
      rmSync(lock, { force: true });
    }
    return false;
  }

  private async lastLines(taskId: string, n: number): Promise<string | undefined> {
    const lines: string[] = [];
    for await (const l of this.logs(taskId, { tail: n })) lines.push(l.line);
    return lines.length ? lines.join(' | ') : undefined;
  }

  private shimLog(dir: string): string {
    try {
      return readFileSync(taskFile(dir, 'shimLog'), 'utf8').trim().split('\n').slice(-3).join(' | ');
    } catch {
      return '';
    }
  }

  async wait(taskId: string): Promise<ExitStatus> {
    const dir = this.dir(taskId);
    let status: ExitStatus | undefined;
    await this.until(
      dir,
      async () => {
        const t = this.mustRead(taskId);
        const s = await this.state(t);
        if (s.state === 'exited') status = s.exit;
        return status !== undefined;
      },
      Infinity,
      1_000,
    );
    return status!;
  }

  /** Resolves true once the task has exited, false after timeoutMs. */
  async waitExited(taskId: string, timeoutMs: number): Promise<boolean> {
    const dir = this.dir(taskId);
    return this.until(dir, async () => (await this.state(this.mustRead(taskId))).state === 'exited', timeoutMs);
  }

  /** Asks the shim to deliver a signal (race-free: it is the task's parent); without a shim, the hook does it. */
  async signal(taskId: string, sig: NodeJS.Signals): Promise<void> {
    const t = this.mustRead(taskId);
    const s = await this.state(t);
    if (s.state !== 'running') return;
    if (t.shim && isSameProcess(t.shim)) {
      writeFileAtomic(taskFile(t.dir, 'kill'), sig);
      try {
        process.kill(t.shim.pid, 'SIGUSR2');
        return;
      } catch {
        /* exited in between: fall through */
      }
    }
    await this.hooks.signalOrphan(t.dir, t.info, t.started, sig);
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
    rmSync(dir, { recursive: true, force: true });
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

  /**
   * Polls `cond` whenever the task dir changes (inotify) and at least every
   * pollMs (a dead shim writes nothing). Resolves true when it holds, false
   * at the deadline.
   */
  private until(dir: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, pollMs = 250): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let done = false;
      let checking = false;
      let again = false;
      let watcher: ReturnType<typeof watch> | undefined;
      const finish = (v: boolean | Error) => {
        if (done) return;
        done = true;
        clearInterval(tick);
        if (deadline) clearTimeout(deadline);
        watcher?.close();
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      const check = async () => {
        if (done) return;
        if (checking) return void (again = true);
        checking = true;
        try {
          if (await cond()) finish(true);
        } catch (err) {
          finish(err as Error);
        } finally {
          checking = false;
        }
        if (again && !done) {
          again = false;
          void check();
        }
      };
      const tick = setInterval(() => void check(), pollMs);
      const deadline = Number.isFinite(timeoutMs) ? setTimeout(() => finish(false), timeoutMs) : undefined;
      try {
        watcher = watch(dir, () => void check());
        watcher.on('error', () => {});
      } catch {
        /* dir gone: the poll will notice through cond() */
      }
      void check();
    });
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
