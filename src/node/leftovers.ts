/**
 * What a node that died leaves on its host outside its processes, and its
 * release, for whoever deletes the node's data directory afterwards (`shoal
 * down --purge`, the test and chaos harnesses, the benchmarks). A node that
 * restarts on the same data directory releases all of it itself: it
 * re-adopts or removes its tasks, and removing a task releases what the task
 * held. One that never runs again cannot, and these outlive it:
 *
 *  - task processes that left their process group (their started.json names them);
 *  - task cgroups (each named by its task ID), and the state an OCI runtime
 *    keeps for a container (crun/runc `delete --force` removes both);
 *  - mounts under the data directory (the oci tasks' overlay roots);
 *  - the per-task tmpfs of secret and config data under
 *    /run/shoal/secrets/<node ID> (without root: a directory in /dev/shm):
 *    secret data held in memory until the machine restarts.
 *
 * Synchronous, and by the same commands an operator would type: it runs
 * where no node does, and nothing waits on it but the deletion that follows.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { defaultSecretsRoot } from '../worker/agent/secret-files.js';
import { destroyTaskCgroups } from '../worker/runtime/common/cgroup.js';
import { isSameProcess } from '../worker/runtime/common/proc.js';
import { loadIdentity } from './state.js';

/** Mount points at or below `dir`, deepest first (from this process's mount table). */
function mountsUnder(dir: string): string[] {
  let table: string;
  try {
    table = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return []; // not Linux: nothing of ours is mounted
  }
  const root = path.resolve(dir);
  return table
    .split('\n')
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((m) => m === root || m.startsWith(root + path.sep))
    .sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `dir`, deepest first; lazily where something still holds a mount. */
export function unmountUnder(dir: string): void {
  for (const m of mountsUnder(dir)) {
    if (spawnSync('umount', ['--', m], { timeout: 10_000 }).status !== 0) spawnSync('umount', ['-l', '--', m], { timeout: 10_000 });
  }
}

interface TaskLeftovers {
  /** Main PIDs of tasks that started and still run (their process groups may outlive the supervisor). */
  pids: number[];
  /** The tasks' own cgroup directories (named by their task IDs). */
  cgroups: string[];
  /** OCI containers whose runtime still keeps state: `<binary> --root <root> delete --force <id>`. */
  containers: { binary: string; root: string; id: string }[];
}

/** What the task directories below `dir` (a data dir, or a directory of them) say their tasks hold. */
function taskLeftovers(dir: string): TaskLeftovers {
  const out: TaskLeftovers = { pids: [], cgroups: [], containers: [] };
  // Only the task's own cgroup (named by its task ID): a container left in a controller's root must not have that root emptied.
  const addCgroups = (dirs: unknown, taskId: string) => {
    if (!dirs || typeof dirs !== 'object') return;
    for (const d of Object.values(dirs)) if (typeof d === 'string' && d.startsWith('/sys/fs/cgroup/') && path.basename(d) === taskId) out.cgroups.push(d);
  };
  const json = (p: string): Record<string, unknown> | null => {
    try {
      return JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
    } catch {
      return null; // half-written: that step never happened
    }
  };
  const walk = (d: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    const taskId = path.basename(d);
    for (const n of names) {
      const p = path.join(d, n);
      if (n === 'started.json') {
        const rec = json(p);
        // Only the very process it started (its start time pairs with its PID): a PID the kernel has
        // since given to someone else's process (a task that ended days ago) is not killed.
        if (typeof rec?.pid === 'number' && rec.pid > 1 && typeof rec.pidStartTime === 'string' && isSameProcess({ pid: rec.pid, startTime: rec.pidStartTime })) out.pids.push(rec.pid);
        addCgroups(rec?.cgroupDirs, taskId);
      } else if (n === 'launch.json') {
        addCgroups(json(p)?.cgroups, taskId);
      } else if (n === 'info.json') {
        const info = json(p);
        if (typeof info?.binaryPath === 'string' && typeof info.root === 'string' && existsSync(path.join(info.root, taskId))) {
          out.containers.push({ binary: info.binaryPath, root: info.root, id: taskId });
        }
      } else if (depth < 6 && !n.startsWith('rootfs') && n !== 'bundle' && n !== 'logs') walk(p, depth + 1);
    }
  };
  walk(dir, 0);
  return out;
}

/** The IDs of the nodes whose data directories are at or below `dir` (those holding a node identity). */
function nodeIds(dir: string, depth = 0): string[] {
  const id = loadIdentitySafe(dir);
  if (id) return [id];
  if (depth >= 3) return [];
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
  return names.flatMap((n) => nodeIds(path.join(dir, n), depth + 1));
}

function loadIdentitySafe(dataDir: string): string | null {
  try {
    return loadIdentity(dataDir)?.nodeId ?? null;
  } catch {
    return null;
  }
}

export interface Released {
  cgroups: number;
  containers: number;
  mounts: number;
  /** Node IDs whose secret and config tmpfs were released. */
  secrets: string[];
}

/**
 * Releases what the dead nodes whose data lives at or below `dir` left (see
 * above), so that `dir` can be deleted. Every node of it must be dead: a
 * live one would lose its tasks' secrets and cgroups under it.
 */
export async function releaseLeftovers(dir: string): Promise<Released> {
  const left = taskLeftovers(dir);
  for (const pid of left.pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const c of left.containers) spawnSync(c.binary, ['--root', c.root, 'delete', '--force', c.id], { timeout: 10_000, stdio: 'ignore' });
  // A cgroup goes once its last process has been reaped: a killed task may take a moment.
  // Only those still there count as released (a task removed in time took its own along).
  const cgroups = left.cgroups.filter((d) => existsSync(d));
  let cgroupsLeft = destroyTaskCgroups(cgroups);
  for (let i = 0; i < 50 && cgroupsLeft.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    cgroupsLeft = destroyTaskCgroups(cgroupsLeft);
  }
  const mounts = mountsUnder(dir).length;
  unmountUnder(dir);
  const secrets: string[] = [];
  for (const id of nodeIds(dir)) {
    const root = defaultSecretsRoot(id);
    if (!existsSync(root)) continue;
    unmountUnder(root);
    rmSync(root, { recursive: true, force: true });
    secrets.push(id);
  }
  return { cgroups: cgroups.length - cgroupsLeft.length, containers: left.containers.length, mounts, secrets };
}
