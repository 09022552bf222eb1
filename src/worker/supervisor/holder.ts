import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, watch, type FSWatcher } from 'node:fs';
import { setPriority } from 'node:os';
import path from 'node:path';
import { readJson, writeJsonAtomic } from '../runtime/common/atomic.js';
import { joinedArgv } from '../runtime/common/cgroup-join.js';
import { destroyTaskCgroups, oomKillCount, procCgroupDir, TASK_CONTROLLERS, type Controller } from '../runtime/common/cgroup.js';
import { kmsgReportsOomKill } from '../runtime/common/kmsg.js';
import { decodeLogLine, LOG_FILE, type LogRotation } from '../runtime/common/log-format.js';
import { LogWriter } from '../runtime/common/log-writer.js';
import { procStartTime } from '../runtime/common/proc.js';
import { exitCodeForSignal, signalName } from '../runtime/common/signals.js';
import { F, taskFile, type ExitRecord, type LaunchSpec, type StartedRecord } from '../runtime/common/task-dir.js';
import { SupervisorError } from './errors.js';
import { forkerAvailable, TaskForker, type ForkedTask } from './forker.js';
import type { HeldTask } from './messages.js';
import type { SupervisorMetrics } from './metrics.js';
import { Turns } from '../../util/turns.js';
import { DEFAULT_SUPERVISOR_OPTIONS, type SupervisorOptions } from './options.js';

/** `setpriv --pdeathsig KILL`: the kernel kills the task when its parent (this supervisor) dies. */
const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv'];

export function findSetpriv(): string | null {
  return SETPRIV_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

interface Held {
  taskId: string;
  dir: string;
  launch: LaunchSpec;
  child: ChildProcess | ForkedTask;
  logs: LogWriter;
  spawnedAt: number;
  started?: StartedRecord;
  pendingSignal?: NodeJS.Signals;
  exited: boolean;
  finished: boolean;
  /** An oci task whose container is still being created: it holds one of the creation slots. */
  creating?: boolean;
  /** Why the supervisor ended the task itself before it ran (its creation took too long). */
  failure?: string;
  waiters: { ok: (r: { pid: number; startedAt: string }) => void; fail: (e: Error) => void }[];
}

export interface HolderEvents {
  started(taskId: string, pid: number, startedAt: string): void;
  exited(taskId: string, exit: ExitRecord): void;
}

/**
 * Every task of the node, as children of this one process (no process per
 * task of ours): it spawns each task's launch argv behind `setpriv
 * --pdeathsig KILL` (so a task never outlives its supervisor), copies its
 * stdout/stderr into rotated log files, delivers signals (it is the parent,
 * so the PID cannot have been recycled under it), and on exit works out the
 * true status (OOM from the cgroup's counter or the kernel log), cleans up,
 * and writes exit.json before it reports the exit.
 */
export class TaskHolder {
  private readonly held = new Map<string, Held>();
  private readonly setpriv = findSetpriv();
  /** The Perl task forker when this machine has Perl (forker-script.ts says why); else Node spawns behind setpriv. */
  private readonly forker: TaskForker | null;
  private closing = false;
  /** Starts wait here and go a few milliseconds' worth per event-loop turn: Node's spawn (no Perl) blocks until the child has exec'd; the forker's does not, and its starts all go in one turn. */
  private readonly queue: (() => void)[] = [];
  /** Queued starts by task, so a second start of one task joins the first instead of spawning twice. */
  private readonly queued = new Map<string, Held['waiters']>();
  private pumping = false;
  /** The oci creation slots (limits.ociCreatesAtOnce): a start takes one until its container has a PID or failed. */
  private readonly creations: Turns;

  /** The priority tasks run at when the supervisor's own differs (null: inherit it). */
  taskNice: number | null = null;

  constructor(
    private readonly roots: string[],
    private readonly rotation: LogRotation,
    private readonly events: HolderEvents,
    private readonly metrics: SupervisorMetrics,
    private readonly diag: (msg: string) => void,
    /** options.ts says why each. */
    private readonly limits: Pick<SupervisorOptions, 'ociCreatesAtOnce' | 'ociStartTimeoutMs'> = DEFAULT_SUPERVISOR_OPTIONS,
  ) {
    this.creations = new Turns(limits.ociCreatesAtOnce);
    const bin = forkerAvailable();
    this.forker = bin ? new TaskForker(bin, diag) : null;
  }

  /** Whether a task's death with this supervisor is guaranteed (the forker or setpriv sets PR_SET_PDEATHSIG). */
  get tied(): boolean {
    return this.forker !== null || this.setpriv !== null;
  }

  /** How tasks are started, for the supervisor's log. */
  get spawner(): string {
    return this.forker ? `${this.forker.kind} forker` : this.setpriv ? 'node spawn + setpriv' : 'node spawn';
  }

  get size(): number {
    return this.held.size;
  }

  list(): HeldTask[] {
    const out: HeldTask[] = [];
    for (const h of this.held.values()) {
      if (h.started && !h.finished) out.push({ taskId: h.taskId, dir: h.dir, pid: h.started.pid, startedAt: h.started.startedAt });
    }
    return out;
  }

  /** Starts the task in `dir` (its launch.json); resolves once it runs. Idempotent for a held task. */
  start(taskId: string, dir: string): Promise<{ pid: number; startedAt: string }> {
    if (this.closing) return Promise.reject(new SupervisorError('SHUTTING_DOWN', 'the supervisor is stopping'));
    const abs = path.resolve(dir);
    if (path.basename(abs) !== taskId || !this.roots.some((r) => abs.startsWith(path.resolve(r) + path.sep))) {
      return Promise.reject(new SupervisorError('BAD_TASK', `task directory ${dir} is not a task ${taskId} under this supervisor's roots`));
    }
    const cur = this.held.get(taskId);
    if (cur) {
      if (cur.started) return Promise.resolve({ pid: cur.started.pid, startedAt: cur.started.startedAt });
      return new Promise((ok, fail) => cur.waiters.push({ ok, fail }));
    }
    const waiting = this.queued.get(taskId);
    if (waiting) return new Promise((ok, fail) => waiting.push({ ok, fail }));
    if (existsSync(taskFile(abs, 'exit'))) return Promise.reject(new SupervisorError('ALREADY_RAN', `task ${taskId} has already run; a task starts once`));
    const launch = readJson<LaunchSpec>(taskFile(abs, 'launch'));
    if (!launch) return Promise.reject(new SupervisorError('BAD_TASK', `task ${taskId} has no readable launch.json`));
    return new Promise((ok, fail) => {
      this.queued.set(taskId, [{ ok, fail }]);
      const go = () => {
        const waiters = this.queued.get(taskId) ?? [];
        this.queued.delete(taskId);
        // It may have waited for a creation slot while its caller gave up and removed it: never run a removed task.
        if (!existsSync(taskFile(abs, 'launch'))) {
          for (const w of waiters) w.fail(new SupervisorError('BAD_TASK', `task ${taskId} was removed while it waited to start`));
          return;
        }
        this.spawnTask(taskId, abs, launch, waiters);
      };
      if (launch.kind !== 'oci') {
        this.queue.push(go);
        this.pump();
        return;
      }
      this.creations.take(() => {
        this.queue.push(() => {
          const before = this.held.size;
          go();
          // Not held (removed meanwhile, or it could not be spawned): its slot is free again.
          if (this.held.size === before) this.creations.give();
        });
        this.pump();
      });
    });
  }

  /** One oci creation is over (the container runs, or it failed to): its slot goes to the next. */
  private created(h: Held): void {
    if (!h.creating) return;
    h.creating = false;
    this.creations.give();
  }

  /**
   * Spawns queued tasks for up to ~5 ms per event-loop turn, then yields so
   * the agent's requests and every pipe keep flowing while hundreds start.
   */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    const turn = () => {
      const until = performance.now() + 5;
      while (this.queue.length > 0 && performance.now() < until) this.queue.shift()!();
      if (this.queue.length > 0) setImmediate(turn);
      else this.pumping = false;
    };
    setImmediate(turn);
  }

  private spawnTask(taskId: string, dir: string, launch: LaunchSpec, waiters: Held['waiters']): void {
    let child: ChildProcess | ForkedTask;
    let logs: LogWriter;
    try {
      logs = new LogWriter(path.join(dir, F.logs), launch.rotation ?? this.rotation);
      child = this.forker ? this.forker.spawn({ argv: launch.argv, cwd: launch.cwd, env: launch.env, uid: launch.uid, gid: launch.gid, nice: this.taskNice ?? undefined, cgroupProcs: launch.joinCgroups, killGroupOnExit: launch.kind === 'process' }) : this.nodeSpawn(launch);
    } catch (err) {
      this.metrics.startFailures++;
      for (const w of waiters) w.fail(new SupervisorError('START_FAILED', `cannot start task ${taskId}: ${(err as Error).message}`));
      return;
    }
    const h: Held = { taskId, dir, launch, child, logs, spawnedAt: Date.now(), exited: false, finished: false, waiters, ...(launch.kind === 'oci' ? { creating: true } : {}) };
    this.held.set(taskId, h);
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (h.finished || child.pid !== undefined) return this.diag(`task ${taskId}: child error: ${err.message}`);
      // It could not be started at all (the binary or cwd is missing, a bad uid): no task to wait for.
      const msg = `cannot start ${launch.argv[0]}: ${err.message}`;
      h.logs.note(msg);
      this.finish(h, { exitCode: err.code === 'ENOENT' ? 127 : 126, oomKilled: false, finishedAt: new Date().toISOString(), message: msg });
    });
    child.once('spawn', () => {
      child.stdout!.on('data', (c: Buffer) => h.logs.write('stdout', c));
      child.stderr!.on('data', (c: Buffer) => h.logs.write('stderr', c));
      if (launch.kind === 'process') {
        const pid = child.pid!;
        // The forker's child read its own start time; anyone else's read of /proc/PID/stat waits out its execve.
        const pidStartTime = ('startTime' in child ? child.startTime : undefined) ?? procStartTime(pid) ?? undefined;
        this.recordStarted(h, { pid, pidStartTime, startedAt: new Date(h.spawnedAt).toISOString() });
      } else {
        void this.awaitContainerPid(h);
      }
    });
    child.once('exit', (code, signal) => this.onExit(h, code, signal));
  }

  /** Without Perl: Node's spawn (it blocks until the child has exec'd), behind setpriv for PR_SET_PDEATHSIG. */
  private nodeSpawn(launch: LaunchSpec): ChildProcess {
    const cmd = launch.joinCgroups?.length ? joinedArgv('shoal-task', launch.joinCgroups, launch.argv, launch.env) : launch.argv;
    const argv = this.setpriv ? [this.setpriv, '--pdeathsig', 'KILL', '--', ...cmd] : cmd;
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: launch.cwd,
      env: launch.env,
      detached: true, // setsid: the task leads its own process group, which signals reach as a whole
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(launch.uid !== undefined ? { uid: launch.uid } : {}),
      ...(launch.gid !== undefined ? { gid: launch.gid } : {}),
    });
    // The supervisor runs at a raised priority (main.ts); its tasks must not inherit it.
    if (this.taskNice !== null && child.pid) {
      try {
        setPriority(child.pid, this.taskNice);
      } catch {
        /* already gone */
      }
    }
    return child;
  }

  private onExit(h: Held, code: number | null, signal: NodeJS.Signals | null): void {
    h.exited = true;
    const launch = h.launch;
    // A container that ran and exited between two looks at its pid file still ran: runc wrote its PID.
    if (launch.kind === 'oci' && !h.started) {
      const pid = readPidFile(launch.oci!.pidFile);
      if (pid > 0) this.recordStarted(h, { pid, startedAt: new Date(h.spawnedAt).toISOString(), ...(launch.oci!.expectedMemcgDir ? { memcgDir: launch.oci!.expectedMemcgDir } : {}) });
    }
    // Leftovers of a process task (background children) would keep our pipes open: end them now (the forker already has).
    if (launch.kind === 'process' && h.child.pid && !this.forker) {
      try {
        process.kill(-h.child.pid, 'SIGKILL');
      } catch {
        /* the group is already empty */
      }
    }
    const status = this.exitStatus(h, code, signal);
    // Let the pipes drain, but never hang on a descendant that escaped the group.
    const timer = setTimeout(() => this.finish(h, status), 2_000);
    timer.unref();
    h.child.once('close', () => {
      clearTimeout(timer);
      this.finish(h, status);
    });
  }

  signal(taskId: string, sig: string): boolean {
    const h = this.held.get(taskId);
    const name = signalName(sig);
    if (!name) throw new SupervisorError('BAD_TASK', `unknown signal ${JSON.stringify(sig)}`);
    if (!h || h.exited || h.finished) return false;
    this.metrics.signals++;
    this.deliver(h, name);
    return true;
  }

  private deliver(h: Held, sig: NodeJS.Signals): void {
    if (h.exited || h.finished) return;
    if (h.launch.kind === 'process') {
      if (this.forker) {
        (h.child as ForkedTask).kill(sig, true);
        return;
      }
      try {
        process.kill(-h.child.pid!, sig);
      } catch {
        try {
          h.child.kill(sig);
        } catch (err) {
          this.diag(`task ${h.taskId}: kill ${sig}: ${(err as Error).message}`);
        }
      }
      return;
    }
    if (!h.started) {
      // The container is still being created; the runtime's kill would fail. Deliver once it has a PID.
      h.pendingSignal = sig;
      return;
    }
    const o = h.launch.oci!;
    const args = ['--root', o.root, 'kill', ...(sig === 'SIGKILL' ? ['--all'] : []), o.containerId, sig.slice(3)];
    const k = spawn(o.binary, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: h.launch.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
    let err = '';
    k.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    k.on('error', (e) => this.diag(`${o.binary} kill: ${e.message}`));
    k.on('exit', (c) => {
      if (c === 0 || h.exited) return;
      this.diag(`${o.binary} kill ${sig} ${h.taskId} exited ${c}: ${err.trim()}`);
      // The container may be gone from the runtime's view already: its foreground runtime process is ours to end.
      if (sig === 'SIGKILL') h.child.kill('SIGKILL');
    });
  }

  private recordStarted(h: Held, rec: StartedRecord): void {
    if (h.finished || h.started) return;
    h.started = rec;
    this.created(h);
    try {
      writeJsonAtomic(taskFile(h.dir, 'started'), rec, false);
    } catch (err) {
      this.diag(`task ${h.taskId}: cannot write started.json: ${(err as Error).message}`);
    }
    this.metrics.started++;
    for (const w of h.waiters.splice(0)) w.ok({ pid: rec.pid, startedAt: rec.startedAt });
    this.events.started(h.taskId, rec.pid, rec.startedAt);
    if (h.pendingSignal) this.deliver(h, h.pendingSignal);
  }

  /** SIGKILLs the task's whole process group (it leads one: setsid in the forker, detached in Node's spawn). */
  private killGroup(h: Held): void {
    if (this.forker) {
      (h.child as ForkedTask).kill('SIGKILL', true);
      return;
    }
    try {
      process.kill(-h.child.pid!, 'SIGKILL');
    } catch {
      h.child.kill('SIGKILL');
    }
  }

  /**
   * Until the runtime has written the container's PID (then its record is
   * written and its creation slot freed), it exits, or the start deadline.
   * Woken by inotify on the task directory: a creation holds one of a few
   * slots, so each poll interval it waited past the write was start
   * throughput lost (a 50 ms poll left a fifth of the CPU idle while 300
   * containers started). The timer stays as a backstop, for a directory
   * that cannot be watched.
   */
  private async awaitContainerPid(h: Held): Promise<void> {
    const o = h.launch.oci!;
    const deadline = performance.now() + this.limits.ociStartTimeoutMs;
    const name = path.basename(o.pidFile);
    let wake: (() => void) | null = null;
    let watcher: FSWatcher | null = null;
    try {
      watcher = watch(path.dirname(o.pidFile), { persistent: false }, (_event, file) => {
        if (file === name) wake?.();
      });
      watcher.on('error', () => {
        watcher?.close();
        watcher = null; // the finer timer, then
      });
    } catch {
      watcher = null; // the timer alone
    }
    try {
      for (let i = 0; !h.exited && !h.finished; i++) {
        if (performance.now() > deadline) {
          h.failure = `${path.basename(o.binary)} did not create the container within ${this.limits.ociStartTimeoutMs} ms: killed`;
          h.logs.note(h.failure);
          this.killGroup(h);
          // Its slot is free now, not when the kill takes (a runtime stuck in the kernel may never exit).
          this.created(h);
          return;
        }
        const pid = readPidFile(o.pidFile);
        if (pid > 0) {
          const cgroupDirs: Partial<Record<Controller, string>> = {};
          for (const c of TASK_CONTROLLERS) {
            const d = procCgroupDir(c, pid);
            if (d) cgroupDirs[c] = d;
          }
          this.recordStarted(h, { pid, pidStartTime: procStartTime(pid) ?? undefined, startedAt: new Date().toISOString(), memcgDir: cgroupDirs.memory ?? o.expectedMemcgDir, cgroupDirs });
          return;
        }
        await new Promise<void>((r) => {
          const timer = setTimeout(r, watcher ? 200 : i < 40 ? 5 : 50);
          wake = () => {
            clearTimeout(timer);
            r();
          };
        });
        wake = null;
      }
    } finally {
      watcher?.close();
    }
  }

  private exitStatus(h: Held, code: number | null, signal: NodeJS.Signals | null): ExitRecord {
    const finishedAt = new Date().toISOString();
    const launch = h.launch;
    if (launch.kind === 'process') {
      const exitCode = code ?? exitCodeForSignal(signal ?? 'SIGKILL');
      const oomKilled = (signal === 'SIGKILL' || exitCode === 137) && (oomKillCount(launch.cgroups?.memory) ?? 0) > 0;
      // The forker's child says why it never became the task (exec, chdir, cgroup join failed).
      const execError = 'execError' in h.child ? h.child.execError : undefined;
      const message = !execError ? undefined : execError.code === 'ENOENT' && execError.message.startsWith('exec ') ? `executable file not found: ${JSON.stringify(launch.argv[0])}` : execError.message;
      if (message) h.logs.note(message);
      return { exitCode, ...(signal ? { signal } : {}), oomKilled, finishedAt, ...(message ? { message } : {}) };
    }
    // runc/crun in the foreground exit with the container's status (tini passes its child's on): 128+N for a signal.
    const o = launch.oci!;
    const exitCode = code ?? exitCodeForSignal(signal ?? 'SIGKILL');
    const sig = exitCode > 128 && exitCode < 128 + 65 ? signalName(exitCode - 128) : null;
    let oomKilled = false;
    if (exitCode === 137) {
      const count = oomKillCount(h.started?.memcgDir ?? o.expectedMemcgDir);
      oomKilled = count !== null ? count > 0 : kmsgReportsOomKill(o.memcgSuffix, h.spawnedAt);
    }
    return { exitCode, ...(sig ? { signal: sig } : {}), oomKilled, finishedAt, ...(h.failure ? { message: h.failure } : {}) };
  }

  private finish(h: Held, status: ExitRecord): void {
    if (h.finished) return;
    h.finished = true;
    this.created(h);
    if (!h.started) {
      this.metrics.startFailures++;
      const why = status.message ?? lastLogLines(h.dir) ?? `exit code ${status.exitCode}`;
      for (const w of h.waiters.splice(0)) w.fail(new SupervisorError('START_FAILED', `task ${h.taskId} did not start: ${why}`));
    }
    void this.cleanUp(h).then(
      () => this.record(h, status),
      (err: Error) => {
        this.diag(`task ${h.taskId}: clean-up: ${err.message}`);
        this.record(h, status);
      },
    );
  }

  /** Everything the task left, before exit.json says it is over (so a caller that waited can remove at once). */
  private async cleanUp(h: Held): Promise<void> {
    try {
      h.logs.close();
    } catch (err) {
      this.diag(`task ${h.taskId}: closing logs: ${(err as Error).message}`);
    }
    const launch = h.launch;
    if (launch.kind === 'process' && launch.cgroups) {
      // The kernel needs a moment to empty a cgroup after its last task is killed.
      for (let i = 0; i < 100 && destroyTaskCgroups(launch.cgroups).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    }
    if (launch.kind === 'oci') {
      const o = launch.oci!;
      if (o.keep) {
        const r = await run(o.binary, ['--root', o.root, 'delete', '--force', o.containerId], launch.env.PATH);
        if (r.code !== 0) {
          this.diag(`${o.binary} delete ${h.taskId}: ${r.err.trim()}`);
          // Its state is gone (orphaned): at least do not leave its cgroups behind.
          if (h.started?.cgroupDirs) destroyTaskCgroups(h.started.cgroupDirs);
        }
      }
      rmSync(o.pidFile, { force: true });
    }
  }

  private record(h: Held, status: ExitRecord): void {
    try {
      // Renamed whole, not fsynced: after a power loss no task runs and its exit no longer matters.
      writeJsonAtomic(taskFile(h.dir, 'exit'), status, false);
    } catch (err) {
      this.diag(`task ${h.taskId}: cannot write exit.json: ${(err as Error).message}`);
    }
    this.held.delete(h.taskId);
    this.metrics.exited++;
    this.events.exited(h.taskId, status);
  }

  /** SIGKILL every task and wait (bounded) until all have been recorded. */
  async stopAll(): Promise<number> {
    this.closing = true;
    // Starts still queued never run.
    this.queue.length = 0;
    this.creations.clear();
    for (const [id, ws] of this.queued) for (const w of ws) w.fail(new SupervisorError('SHUTTING_DOWN', `task ${id} was not started: the supervisor is stopping`));
    this.queued.clear();
    const all = [...this.held.values()];
    for (const h of all) this.deliver(h, 'SIGKILL');
    const deadline = Date.now() + 20_000;
    while (this.held.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.forker?.close();
    return all.length;
  }
}

function readPidFile(file: string): number {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) ? pid : 0;
  } catch {
    return 0; // not written (yet)
  }
}

function lastLogLines(dir: string): string | undefined {
  try {
    const text = readFileSync(path.join(dir, F.logs, LOG_FILE), 'utf8').trim().split('\n').slice(-3);
    const lines = text.map((l) => decodeLogLine(l)?.line ?? l).filter((l) => l);
    return lines.length ? lines.join(' | ') : undefined;
  } catch {
    return undefined;
  }
}

function run(bin: string, args: string[], pathEnv: string | undefined): Promise<{ code: number; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: pathEnv ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
    let err = '';
    p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    p.on('error', (e) => resolve({ code: -1, err: e.message }));
    p.on('exit', (code) => resolve({ code: code ?? -1, err }));
  });
}
