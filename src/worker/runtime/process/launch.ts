import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { RuntimeError, type TaskRunSpec } from '../interface.js';
import { createTaskCgroups, procsFiles, type TaskCgroups } from '../common/cgroup.js';
import { envMap } from '../common/env.js';
import type { LogRotation } from '../common/log-format.js';
import type { LaunchSpec } from '../common/task-dir.js';
import { resolveUser } from '../common/user.js';
import { DEFAULT_PATH } from '../options.js';

/**
 * Turns a TaskRunSpec into what the shim runs for a host process.
 *
 * The task must be in its cgroups before it runs a single instruction of its
 * own (else it could fork or allocate outside its limits), and Node cannot run
 * code between fork and exec. So the shim starts a tiny POSIX sh prelude that
 * writes its own PID into each cgroup.procs and then execs the command:
 *   sh -c '<join>' shoal-task N procs1 … procsN cmd args…
 * A missing command shows up as sh's "not found" on the task's stderr and exit
 * 127, as in Docker.
 */
// sh exports PWD on its own; `unset` keeps the task's environment exactly its own.
const JOIN = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; unset PWD; exec "$@"';
const JOIN_KEEP_PWD = JOIN.replace('unset PWD; ', '');

/** argv that joins the cgroups whose cgroup.procs files are given, then execs `argv`. */
export function joinedArgv(tag: string, procs: string[], argv: string[], env: Record<string, string>): string[] {
  return ['/bin/sh', '-c', 'PWD' in env ? JOIN_KEEP_PWD : JOIN, tag, String(procs.length), ...procs, ...argv];
}

export interface ProcessLaunch {
  launch: LaunchSpec;
  cgroups: TaskCgroups;
  warnings: string[];
}

/** Command + Args, or Args alone; nothing at all is an invalid spec (the image is ignored, so it has no default). */
export function taskArgv(spec: TaskRunSpec): string[] {
  const argv = spec.command?.length ? [...spec.command, ...(spec.args ?? [])] : [...(spec.args ?? [])];
  if (argv.length === 0) {
    throw new RuntimeError('INVALID_SPEC', `task ${spec.taskId}: the process runtime runs ContainerSpec.Command/Args as a host process and ignores the image (${spec.image}), so Command or Args must be set`);
  }
  return argv;
}

export function buildProcessLaunch(spec: TaskRunSpec, taskDir: string, cgroupParent: string, rotation: LogRotation): ProcessLaunch {
  const argv = taskArgv(spec);
  const warnings: string[] = [];
  const isRoot = process.getuid?.() === 0;

  let cwd = path.join(taskDir, 'work');
  if (spec.dir) {
    if (!path.isAbsolute(spec.dir)) throw new RuntimeError('INVALID_SPEC', `task ${spec.taskId}: working directory ${JSON.stringify(spec.dir)} must be absolute`);
    if (!existsSync(spec.dir) || !statSync(spec.dir).isDirectory()) throw new RuntimeError('INVALID_SPEC', `task ${spec.taskId}: working directory ${spec.dir} does not exist on this node`);
    cwd = spec.dir;
  } else {
    mkdirSync(cwd, { recursive: true });
  }

  let uid: number | undefined;
  let gid: number | undefined;
  let home: string | undefined;
  if (spec.user) {
    const u = resolveUser(spec.user, '/');
    if (isRoot) {
      uid = u.uid;
      gid = u.gid;
      home = u.home;
    } else if (u.uid !== process.getuid?.()) {
      warnings.push(`user ${spec.user} not applied: the node does not run as root`);
    }
  }

  // Only the task's environment, plus what a process needs to find programs and a home.
  const env = envMap(spec.env, { PATH: DEFAULT_PATH, HOME: home ?? cwd });

  const cgroups = createTaskCgroups(cgroupParent, spec.taskId, spec.limits, uid, gid);
  const limited = spec.limits.memoryBytes || spec.limits.nanoCpus || spec.limits.pids;
  if (limited) warnings.push(...cgroups.warnings);
  if (spec.mounts.length) warnings.push(`mounts not applied: the process runtime has no mount namespace (${spec.mounts.map((m) => m.target).join(', ')})`);
  if (spec.hostname) warnings.push('hostname not applied: the process runtime shares the host UTS namespace');

  const procs = procsFiles(cgroups.dirs);
  const launch: LaunchSpec = {
    kind: 'process',
    argv: joinedArgv('shoal-task', procs, argv, env),
    env,
    cwd,
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
    rotation,
    cgroups: cgroups.dirs,
    ...(spec.fence ? { fence: spec.fence } : {}),
  };
  return { launch, cgroups, warnings };
}
