import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { RuntimeError, type TaskRunSpec } from '../interface.js';
import { createTaskCgroups, procsFiles, type TaskCgroups } from '../common/cgroup.js';
import { envMap } from '../common/env.js';
import type { LogRotation } from '../common/log-format.js';
import type { LaunchSpec } from '../common/task-dir.js';
import { resolveUser } from '../common/user.js';
import { DEFAULT_PATH } from '../options.js';
import { resolveExecutable } from './executable.js';

/**
 * Turns a TaskRunSpec into what the task supervisor runs for a host process.
 *
 * The task must be in its cgroups before it runs a single instruction of its
 * own (else it could fork or allocate outside its limits): the launch names
 * the cgroup.procs files, and the supervisor's forker writes the child's PID
 * into each between fork and exec (or, without the forker, a tiny sh prelude
 * does: see common/cgroup-join.ts). A program that cannot run is rejected
 * before that, at create (see executable.ts); one that disappears between
 * create and start fails the task with exit 127 and the reason.
 */
export { joinedArgv } from '../common/cgroup-join.js';

export interface ProcessLaunch {
  launch: LaunchSpec;
  cgroups: TaskCgroups;
  warnings: string[];
}

/**
 * The argv of a process task, Docker's rules with the image as the program
 * (a host has no images): Command, when set, replaces the image as in Docker
 * (it overrides the entrypoint), followed by Args; otherwise the image is the
 * executable and Args its arguments — Image "sleep", Args ["300"] runs
 * `sleep 300`, which is what `shoal service create sleep 300` (or
 * `docker service create sleep 300`) sends. An empty Image (the API allows it
 * for the process runtime only) leaves Args as the whole command.
 */
export function taskArgv(spec: TaskRunSpec): string[] {
  const args = spec.args ?? [];
  if (spec.command?.length) return [...spec.command, ...args];
  const program = programOfImage(spec.image);
  if (program !== '') return [program, ...args];
  if (args.length > 0) return [...args];
  throw new RuntimeError('INVALID_SPEC', `task ${spec.taskId}: nothing to run: the process runtime runs ContainerSpec.Image as the program (or Command, which overrides it), and this task has no Image, Command or Args`);
}

/**
 * The program an image reference names. The docker CLI normalises what it
 * sends — `docker service create sleep 300` arrives as Image "sleep:latest",
 * and a resolved image is pinned with "@sha256:…" — and neither suffix can be
 * part of a program the user meant, so both are dropped. Any other tag stays:
 * "node:20" is not found rather than silently run as whatever node the host has.
 */
export function programOfImage(image: string): string {
  return image.replace(/@sha256:[0-9a-f]{64}$/, '').replace(/:latest$/, '');
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

  // Before any cgroup is made: a program that cannot run rejects the task with the reason, not an exit 127 later.
  resolveExecutable(argv[0]!, { cwd, pathVar: env.PATH ?? DEFAULT_PATH, ...(uid !== undefined ? { user: { uid, gid: gid ?? uid } } : {}) });

  const cgroups = createTaskCgroups(cgroupParent, spec.taskId, spec.limits, uid, gid);
  const limited = spec.limits.memoryBytes || spec.limits.nanoCpus || spec.limits.pids;
  if (limited) warnings.push(...cgroups.warnings);
  if (spec.mounts.length) warnings.push(`mounts not applied: the process runtime has no mount namespace (${spec.mounts.map((m) => m.target).join(', ')})`);
  if (spec.hostname) warnings.push('hostname not applied: the process runtime shares the host UTS namespace');

  const procs = procsFiles(cgroups.dirs);
  const launch: LaunchSpec = {
    kind: 'process',
    argv,
    ...(procs.length ? { joinCgroups: procs } : {}),
    env,
    cwd,
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
    rotation,
    cgroups: cgroups.dirs,
  };
  return { launch, cgroups, warnings };
}
