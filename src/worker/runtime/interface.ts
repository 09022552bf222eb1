/**
 * The container runtime contract the agent drives (SwarmKit's agent/exec
 * shape): one interface, three implementations — `process` (host
 * processes), `oci` (runc or crun running OCI bundles from a node-local image
 * store) and `docker` (Docker Engine over its unix socket).
 *
 * Every operation is keyed by the Shoal task ID. A runtime must keep enough
 * state on disk (or in its engine) that a restarted agent can `list()` and
 * re-adopt running tasks, and can still learn the exit code of a task that
 * exited while the agent was down — for `process` and `oci` that is the
 * node's task supervisor (supervisor/), which outlives the agent.
 */

import { policy, ShoalError } from '../../util/errors.js';
import type { RuntimeName } from '../../model/runtime-names.js';
import type { HealthConfig } from '../../model/index.js';
export type { RuntimeName };

export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Host path (bind) or volume name (volume). */
  source?: string;
  target: string;
  readOnly?: boolean;
  /** tmpfs size. */
  sizeBytes?: number;
  /** A named volume's labels, set when this task creates it (docker stack deploy labels its volumes with the stack). */
  volumeLabels?: Record<string, string>;
}

export interface TaskRunSpec {
  taskId: string;
  /** Human name, e.g. `web.3.<taskId>` (container name where the runtime has one). */
  name: string;
  /** Image reference. The process runtime accepts any name and ignores it. */
  image: string;
  /** Overrides the image entrypoint (ContainerSpec.Command). */
  command?: string[];
  /** ContainerSpec.Args. */
  args?: string[];
  /** "KEY=value" entries. */
  env: string[];
  dir?: string;
  user?: string;
  hostname?: string;
  mounts: MountSpec[];
  limits: { nanoCpus?: number; memoryBytes?: number; pids?: number };
  /** Signal sent first on stop (default SIGTERM). */
  stopSignal?: string;
  labels: Record<string, string>;
  /** Implementation-specific extras (e.g. the oci runtime binary: 'runc' | 'crun'). */
  options?: Record<string, string>;
  /**
   * The task's own network (overlay-net): a namespace the node's data plane
   * made, with the task's addresses in it, and the name resolution the task
   * sees (the node's embedded DNS). Absent: the host network.
   */
  network?: TaskNetwork;
}

export interface TaskNetwork {
  /** e.g. /run/netns/shoal-0123456789ab. */
  netnsPath: string;
  /** Contents of the task's /etc/resolv.conf. */
  resolvConf: string;
  /** Contents of the task's /etc/hosts. */
  hosts: string;
  /**
   * For a runtime that makes the namespace itself (docker: a sandbox
   * container's, bound at netnsPath): call once it is bound there; resolves
   * when the node's data plane has put the task's interfaces into it.
   */
  bound?: () => Promise<void>;
}

export interface ExitStatus {
  exitCode: number;
  /** Set when the task was ended by a signal, e.g. 'SIGKILL'. */
  signal?: string;
  /** The kernel's OOM killer ended it (reported as such, exit code 137). */
  oomKilled: boolean;
  /** RFC 3339. */
  finishedAt: string;
  /** Why, when the runtime rather than the task decided the outcome (e.g. the supervisor died, the exec failed). */
  message?: string;
}

export type ContainerState = 'created' | 'running' | 'exited';

export interface ContainerInfo {
  taskId: string;
  /** Container ID, or PID for the process runtime. */
  runtimeId: string;
  state: ContainerState;
  pid?: number;
  startedAt?: string;
  exit?: ExitStatus;
  /** What the runtime could not honour or only approximated (e.g. limits without cgroups, mounts on the process runtime). */
  warnings?: string[];
}

export interface LogOptions {
  follow?: boolean;
  /** Last N lines (undefined = all). */
  tail?: number;
  /** Only lines at or after this time (ms since epoch). */
  sinceMs?: number;
  timestamps?: boolean;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** ms since epoch. */
  time: number;
  line: string;
}

export interface TaskStats {
  cpuNanos?: number;
  memoryBytes?: number;
  pids?: number;
}

export interface Runtime {
  readonly name: RuntimeName;
  /** Whether this runtime can run here (binary present, socket reachable); the reason when not. */
  available(): Promise<{ ok: boolean; reason?: string }>;
  /**
   * Makes the image usable (here already, pulled from its registry, or
   * fetched from a node that has it). Idempotent. `progress` hears what a
   * slow step is doing ("pulling …"), for the task's status message.
   */
  prepare(spec: TaskRunSpec, progress?: (message: string) => void): Promise<void>;
  /** Creates the task's container without starting it. Idempotent for an existing task ID. */
  create(spec: TaskRunSpec): Promise<ContainerInfo>;
  start(taskId: string): Promise<void>;
  /** Resolves with the exit status once the task exits (also for re-adopted tasks). */
  wait(taskId: string): Promise<ExitStatus>;
  /** Sends stopSignal, waits up to graceMs, then SIGKILL. Resolves once it has exited. */
  stop(taskId: string, graceMs: number): Promise<void>;
  /** Removes what the task left (container, bundle, supervisor state; logs may stay until removed). */
  remove(taskId: string): Promise<void>;
  logs(taskId: string, opts: LogOptions): AsyncIterable<LogLine>;
  stats(taskId: string): Promise<TaskStats>;
  inspect(taskId: string): Promise<ContainerInfo | null>;
  /** Every task this runtime knows on this node (for re-adoption after an agent restart). */
  list(): Promise<ContainerInfo[]>;
  /**
   * The node is stopping with its tasks: release what stopped tasks still
   * hold on the host (oci overlay mounts), leaving their records for the
   * next agent. Optional: runtimes that hold nothing need not implement it.
   */
  release?(): Promise<void>;
  /**
   * The image's own HEALTHCHECK, which a service's check overrides field by
   * field (as Docker merges them). Absent on runtimes without images.
   */
  imageHealthCheck?(spec: TaskRunSpec): Promise<HealthConfig | undefined>;
  /** Runs a command inside the task (health checks). */
  exec(taskId: string, cmd: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }>;
}

/** NO_LEASE: the node's fencing lease is not valid now, so nothing starts (the agent asks again once it is). */
export type RuntimeErrorCode = 'NOT_FOUND' | 'IMAGE_NOT_FOUND' | 'INVALID_SPEC' | 'UNAVAILABLE' | 'NO_LEASE' | 'FAILED';
const runtimePolicy = policy<RuntimeErrorCode>(['UNAVAILABLE', 'NO_LEASE'], { NOT_FOUND: 404, IMAGE_NOT_FOUND: 404, INVALID_SPEC: 400, UNAVAILABLE: 503, NO_LEASE: 503 });

export class RuntimeError extends ShoalError<RuntimeErrorCode> {
  override readonly name = 'RuntimeError';
  readonly ns = 'runtime';
  constructor(code: RuntimeErrorCode, message: string) {
    super(code, message, runtimePolicy(code));
  }
}
