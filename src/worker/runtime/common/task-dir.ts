import path from 'node:path';
import type { ExitStatus } from '../interface.js';
import type { Controller } from './cgroup.js';
import type { LogRotation } from './log-format.js';

/**
 * The per-task state directory shared by the agent's runtime object and the
 * node's task supervisor (process and oci runtimes). Every file is written
 * whole and renamed into place (atomic.ts); the agent never keeps state only
 * in memory, so a fresh Runtime instance knows everything an old one did.
 *
 *   <stateDir>/tasks/<taskId>/
 *     spec.json      the TaskRunSpec, as given to create()      (runtime)
 *     info.json      created: runtime id, cgroups, bundle, …     (runtime; its presence = created)
 *     launch.json    what the supervisor runs and how            (runtime, at create)
 *     started.json   the task's PID, start time                  (supervisor)
 *     exit.json      the ExitStatus                              (supervisor; or the runtime if the supervisor died)
 *     logs/task.log* the task's stdout/stderr (log-format.ts)
 */
export const F = {
  spec: 'spec.json',
  info: 'info.json',
  launch: 'launch.json',
  started: 'started.json',
  exit: 'exit.json',
  logs: 'logs',
} as const;

export function tasksRoot(stateDir: string): string {
  return path.join(stateDir, 'tasks');
}

export function taskDir(stateDir: string, taskId: string): string {
  return path.join(tasksRoot(stateDir), taskId);
}

export function taskFile(dir: string, f: keyof typeof F): string {
  return path.join(dir, F[f]);
}

/** What the supervisor runs. Written by the runtime at create(); the supervisor reads nothing else. */
export interface LaunchSpec {
  kind: 'process' | 'oci';
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  uid?: number;
  gid?: number;
  rotation: LogRotation;
  /** process: cgroup.procs files the task joins between fork and exec (exit 125 when it cannot). */
  joinCgroups?: string[];
  /** process: the task's own cgroups (emptied and removed after the task exits; memory one read for OOM). */
  cgroups?: Partial<Record<Controller, string>>;
  oci?: OciLaunch;
}

export interface OciLaunch {
  /** runc or crun binary. */
  binary: string;
  /** The runtime's --root (container state). */
  root: string;
  containerId: string;
  pidFile: string;
  /** runc run --keep: the container (and its cgroup, with its OOM counter) stays until the supervisor deletes it. */
  keep: boolean;
  /** The tail of the container's memcg path ("/shoal/<taskId>"), to recognise it in the kernel log. */
  memcgSuffix: string;
  /** Where the memcg is expected when the container's /proc/<pid>/cgroup cannot be read in time. */
  expectedMemcgDir?: string;
}

export interface StartedRecord {
  pid: number;
  /** /proc start time of `pid` (ProcRef), to tell it from a recycled PID. */
  pidStartTime?: string;
  startedAt: string;
  /** oci: the container's memory cgroup directory, read from /proc/<pid>/cgroup. */
  memcgDir?: string;
  /** oci: every controller's directory for stats. */
  cgroupDirs?: Partial<Record<Controller, string>>;
}

export type ExitRecord = ExitStatus;
