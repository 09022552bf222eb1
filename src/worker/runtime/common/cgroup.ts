import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync, chownSync } from 'node:fs';
import path from 'node:path';

/**
 * cgroup v1 plumbing for the process runtime (and the oci supervisor's OOM and
 * stats reads). This host is hybrid: v1 controllers under
 * /sys/fs/cgroup/<controller>, only hugetlb on the v2 mount. Mount points and
 * our own place in each hierarchy are read from /proc (never assumed), the
 * way runc resolves a relative cgroupsPath: a relative parent ("shoal") lands
 * under the caller's own cgroup, an absolute one ("/shoal") under the root.
 */

export const TASK_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids'] as const;
export type Controller = (typeof TASK_CONTROLLERS)[number];

interface Hierarchy {
  controllers: string[];
  mountPoint: string;
  /** The subtree of the hierarchy this mount shows ("/" outside containers). */
  root: string;
}

let cached: Hierarchy[] | undefined;

/** Every mounted cgroup v1 hierarchy, from /proc/self/mountinfo. */
export function v1Hierarchies(): Hierarchy[] {
  if (cached) return cached;
  const out: Hierarchy[] = [];
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return (cached = out);
  }
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fstype, , superOpts] = post.split(' ');
    if (fstype !== 'cgroup' || !superOpts) continue;
    const f = pre.split(' ');
    const root = f[3];
    const mountPoint = f[4];
    if (!root || !mountPoint) continue;
    const controllers = superOpts.split(',').filter((o) => !o.includes('=') && !['rw', 'ro'].includes(o) && !o.startsWith('no') && o !== 'relatime' && o !== 'clone_children' && o !== 'xattr');
    out.push({ controllers, mountPoint: unescapeMount(mountPoint), root: unescapeMount(root) });
  }
  return (cached = out);
}

/** Forget the cached mount table (after mounting hugetlb, for instance). */
export function resetCgroupCache(): void {
  cached = undefined;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function hierarchyFor(controller: string): Hierarchy | undefined {
  return v1Hierarchies().find((h) => h.controllers.includes(controller));
}

/** The process's path in the controller's hierarchy, from /proc/<pid>/cgroup. */
export function procCgroupPath(controller: string, pid: number | 'self' = 'self'): string | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m && m[1]!.split(',').includes(controller)) return m[2]!;
  }
  return null;
}

/** Directory of a hierarchy path for a controller, or null when the controller is not mounted. */
export function cgroupDir(controller: string, cgPath: string): string | null {
  const h = hierarchyFor(controller);
  if (!h) return null;
  let rel = cgPath;
  if (h.root !== '/' && rel.startsWith(h.root)) rel = rel.slice(h.root.length);
  return path.join(h.mountPoint, rel);
}

/** The memory cgroup directory a process is in right now (null once it has exited). */
export function procCgroupDir(controller: string, pid: number | 'self'): string | null {
  const p = procCgroupPath(controller, pid);
  return p === null ? null : cgroupDir(controller, p);
}

/** Where a task cgroup named `parent/leaf` goes for this controller (see the header for relative vs absolute). */
export function taskCgroupPath(controller: string, parent: string, leaf: string): string | null {
  if (parent.startsWith('/')) return path.posix.join(parent, leaf);
  const own = procCgroupPath(controller);
  return own === null ? null : path.posix.join(own, parent, leaf);
}

export interface TaskLimits {
  nanoCpus?: number;
  memoryBytes?: number;
  pids?: number;
}

export interface TaskCgroups {
  /** Controller → directory, for the controllers we created (cpu and cpuacct may share one). */
  dirs: Partial<Record<Controller, string>>;
  /** One line per limit actually written, e.g. "memory.limit_in_bytes=33554432". */
  applied: string[];
  /** What could not be done, and why. */
  warnings: string[];
}

/**
 * Creates `<parent>/<taskId>` in each task controller and writes the limits.
 * Best effort: a missing controller or a permission error becomes a warning,
 * the task still runs. `uid` (a non-root task user) gets cgroup.procs so the
 * task's launcher, already running as that user, can move itself in.
 */
export function createTaskCgroups(parent: string, taskId: string, limits: TaskLimits, uid?: number, gid?: number): TaskCgroups {
  const res: TaskCgroups = { dirs: {}, applied: [], warnings: [] };
  if (process.getuid?.() !== 0) {
    res.warnings.push('not running as root: no cgroup, so no memory/cpu/pids limits and no OOM detection');
    return res;
  }
  for (const c of TASK_CONTROLLERS) {
    const p = taskCgroupPath(c, parent, taskId);
    const dir = p === null ? null : cgroupDir(c, p);
    if (!dir) {
      res.warnings.push(`cgroup v1 controller ${c} is not mounted`);
      continue;
    }
    try {
      mkdirSync(dir, { recursive: true });
      if (uid !== undefined && uid !== 0) chownSync(path.join(dir, 'cgroup.procs'), uid, gid ?? uid);
      res.dirs[c] = dir;
    } catch (err) {
      res.warnings.push(`cannot create cgroup ${dir}: ${(err as Error).message}`);
    }
  }
  const set = (c: Controller, file: string, value: string | number) => {
    const dir = res.dirs[c];
    if (!dir) return void res.warnings.push(`${file} not set: no ${c} cgroup`);
    try {
      writeFileSync(path.join(dir, file), String(value));
      res.applied.push(`${file}=${value}`);
    } catch (err) {
      res.warnings.push(`${file}=${value} failed: ${(err as Error).message}`);
    }
  };
  if (limits.memoryBytes) set('memory', 'memory.limit_in_bytes', limits.memoryBytes);
  if (limits.nanoCpus) {
    const period = 100_000;
    set('cpu', 'cpu.cfs_period_us', period);
    // The kernel refuses quotas under 1 ms.
    set('cpu', 'cpu.cfs_quota_us', Math.max(1_000, Math.round((limits.nanoCpus * period) / 1e9)));
  }
  if (limits.pids) set('pids', 'pids.max', limits.pids);
  return res;
}

/** The `cgroup.procs` files a launcher writes its PID into, one per distinct directory. */
export function procsFiles(dirs: Partial<Record<Controller, string>>): string[] {
  return [...new Set(Object.values(dirs))].map((d) => path.join(d, 'cgroup.procs'));
}

/** The memcg's OOM-kill counter (memory.oom_control "oom_kill N"), or null when unreadable. */
export function oomKillCount(memoryDir: string | undefined | null): number | null {
  if (!memoryDir) return null;
  try {
    const m = /^oom_kill (\d+)$/m.exec(readFileSync(path.join(memoryDir, 'memory.oom_control'), 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function readNumber(file: string): number | undefined {
  try {
    const v = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export interface CgroupStats {
  cpuNanos?: number;
  memoryBytes?: number;
  pids?: number;
}

export function readCgroupStats(dirs: Partial<Record<Controller, string>>): CgroupStats {
  const s: CgroupStats = {};
  const cpu = dirs.cpuacct ? readNumber(path.join(dirs.cpuacct, 'cpuacct.usage')) : undefined;
  if (cpu !== undefined) s.cpuNanos = cpu;
  const mem = dirs.memory ? readNumber(path.join(dirs.memory, 'memory.usage_in_bytes')) : undefined;
  if (mem !== undefined) s.memoryBytes = mem;
  const pids = dirs.pids ? readNumber(path.join(dirs.pids, 'pids.current')) : undefined;
  if (pids !== undefined) s.pids = pids;
  return s;
}

/** PIDs still in the cgroup (empty when it is gone). */
export function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * SIGKILLs whatever is left in the task's cgroups (a task is over when its
 * main process exits, as in a container whose init died) and removes them.
 * Returns the directories that could not be removed yet (still populated).
 */
export function destroyTaskCgroups(dirs: Partial<Record<Controller, string>> | readonly string[]): string[] {
  const left: string[] = [];
  for (const dir of new Set(Object.values(dirs))) {
    if (!existsSync(dir)) continue;
    for (const pid of cgroupPids(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    try {
      rmdirSync(dir);
    } catch {
      left.push(dir);
    }
  }
  return left;
}
