import { readFileSync, rmSync } from 'node:fs';
import type { ContainerInfo, Runtime, TaskRunSpec, TaskStats } from '../interface.js';
import { capture } from '../common/capture.js';
import { cgroupPids, destroyTaskCgroups, procsFiles, readCgroupStats, type Controller } from '../common/cgroup.js';
import { SupervisedTasks, checkTaskId, type BaseInfo } from '../common/supervised.js';
import { SupervisedRuntime } from '../common/supervised-runtime.js';
import { readJson } from '../common/atomic.js';
import { taskFile, type LaunchSpec } from '../common/task-dir.js';
import { resolveCommon, type ResolvedCommon, type RuntimeOptions } from '../options.js';
import { buildProcessLaunch, joinedArgv, type ProcessLaunch } from './launch.js';

interface ProcessInfo extends BaseInfo {
  /** The task's cgroup directories (empty when not root). */
  cgroups: Partial<Record<Controller, string>>;
  /** The limits written, e.g. "memory.limit_in_bytes=33554432". */
  applied: string[];
}

/**
 * Runs a task as a host process — the image is the program, Command
 * overrides it, Args follow (launch.ts taskArgv) — in its own session and
 * process group, with only the task's environment, cgroup v1 limits when
 * root, run by the node's task supervisor, which outlives the agent (see
 * common/supervised.ts and supervisor/).
 */
export class ProcessRuntime extends SupervisedRuntime<ProcessInfo> implements Runtime {
  readonly name = 'process' as const;
  private readonly c: ResolvedCommon;
  protected readonly tasks: SupervisedTasks<ProcessInfo>;

  constructor(opts: RuntimeOptions) {
    super();
    this.c = resolveCommon('process', opts);
    this.tasks = new SupervisedTasks<ProcessInfo>(
      { stateDir: this.c.stateDir, rotation: this.c.rotation, log: this.c.log, ...(this.c.supervisor ? { supervisor: this.c.supervisor } : {}) },
      {
        sweep: (_dir, info) => killCgroups(info),
        cleanup: (_dir, info) => {
          killCgroups(info);
          destroyTaskCgroups(info.cgroups);
        },
      },
    );
  }

  async available(): Promise<{ ok: boolean; reason?: string }> {
    return { ok: true };
  }

  /** Nothing to fetch: the "image" is a program on this host, looked up at create. */
  async prepare(spec: TaskRunSpec): Promise<void> {
    checkTaskId(spec.taskId);
  }

  async create(spec: TaskRunSpec): Promise<ContainerInfo> {
    checkTaskId(spec.taskId);
    const existing = await this.inspect(spec.taskId);
    if (existing) return existing;
    const dir = this.tasks.prepareDir(spec.taskId);
    let built: ProcessLaunch;
    try {
      built = buildProcessLaunch(spec, dir, this.c.cgroupParent, this.c.rotation);
    } catch (err) {
      // Nothing was committed, so nothing would ever remove the dir: a service whose program is missing is
      // rejected again after every restart delay, and each attempt would leave one behind.
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const { launch, cgroups, warnings } = built;
    if (cgroups.applied.length) this.c.log.debug({ task: spec.taskId }, `cgroup limits ${cgroups.applied.join(' ')}`);
    for (const w of warnings) this.c.log.warn({ task: spec.taskId }, w);
    this.tasks.commit(dir, spec, launch, {
      taskId: spec.taskId,
      runtimeId: spec.taskId,
      createdAt: new Date().toISOString(),
      warnings,
      cgroups: cgroups.dirs,
      applied: cgroups.applied,
    });
    return (await this.inspect(spec.taskId))!;
  }

  async stats(taskId: string): Promise<TaskStats> {
    const t = this.tasks.mustRead(taskId);
    const s = readCgroupStats(t.info.cgroups);
    if (Object.keys(s).length > 0 || !t.started || t.exit) return s;
    return procStats(t.started.pid);
  }

  /** The process runtime's ID is the task's PID once it runs. */
  override async inspect(taskId: string): Promise<ContainerInfo | null> {
    const i = await this.tasks.inspect(taskId);
    return i && withPid(i);
  }

  override async list(): Promise<ContainerInfo[]> {
    return (await this.tasks.list()).map(withPid);
  }

  /** Runs cmd as a host process with the task's environment, directory, user and cgroups. */
  async exec(taskId: string, cmd: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    const t = await this.runningTask(taskId);
    const launch = readJson<LaunchSpec>(taskFile(t.dir, 'launch'))!;
    const r = await capture(joinedArgv('shoal-exec', procsFiles(t.info.cgroups), cmd, launch.env), {
      cwd: launch.cwd,
      env: launch.env,
      timeoutMs,
      ...(launch.uid !== undefined ? { uid: launch.uid } : {}),
      ...(launch.gid !== undefined ? { gid: launch.gid } : {}),
    });
    return { exitCode: r.exitCode, output: r.error ? `${r.output}${r.error}` : r.output };
  }
}

function withPid(i: ContainerInfo): ContainerInfo {
  return i.pid !== undefined ? { ...i, runtimeId: String(i.pid) } : i;
}

/**
 * The task's main process dies with its supervisor (PR_SET_PDEATHSIG), but
 * children it started may not: when root, its cgroups still hold them.
 */
function killCgroups(info: ProcessInfo): void {
  for (const d of new Set(Object.values(info.cgroups))) {
    for (const p of cgroupPids(d)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

/** Without cgroups: the main process's own CPU time and resident memory. */
function procStats(pid: number): TaskStats {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime (fields 14, 15) in clock ticks; Linux's USER_HZ is 100.
    const ticks = Number(f[11]) + Number(f[12]);
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpuNanos: ticks * 10_000_000, ...(rss ? { memoryBytes: Number(rss[1]) * 1024 } : {}) };
  } catch {
    return {};
  }
}
