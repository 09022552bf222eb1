import { RuntimeError, type MountSpec, type TaskRunSpec } from '../interface.js';

/** The label that marks a container as a Shoal task (list() filters on it). */
export const TASK_LABEL = 'shoal.task.id';

/** Docker container names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
export function containerName(spec: TaskRunSpec): string {
  const n = spec.name.replace(/[^a-zA-Z0-9_.-]/g, '_').replace(/^[^a-zA-Z0-9]+/, '');
  return n || spec.taskId;
}

/**
 * POST /containers/create body. Command → Entrypoint and Args → Cmd, as Swarm
 * does (an Entrypoint given without Cmd makes the engine drop the image's Cmd);
 * limits through HostConfig; json-file logs rotated like ours (10 MiB × 3).
 */
export function createBody(spec: TaskRunSpec, network: string): Record<string, unknown> {
  const host: Record<string, unknown> = {
    NetworkMode: network,
    LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    Mounts: spec.mounts.map((m) => mount(m, spec.taskId)),
  };
  if (spec.limits.memoryBytes) {
    host.Memory = spec.limits.memoryBytes;
    // Memory+swap = memory: no swap, so the limit is what the OOM killer enforces.
    host.MemorySwap = spec.limits.memoryBytes;
  }
  if (spec.limits.nanoCpus) host.NanoCpus = spec.limits.nanoCpus;
  if (spec.limits.pids) host.PidsLimit = spec.limits.pids;
  const body: Record<string, unknown> = {
    Image: spec.image,
    Env: spec.env,
    Labels: { ...spec.labels, [TASK_LABEL]: spec.taskId },
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    // The agent runs the task's health check itself (worker/agent/health.ts, through exec, with the
    // image's HEALTHCHECK merged in): the engine running the image's own as well would check twice.
    Healthcheck: { Test: ['NONE'] },
    HostConfig: host,
  };
  if (spec.command?.length) body.Entrypoint = spec.command;
  if (spec.args?.length) body.Cmd = spec.args;
  if (spec.dir) body.WorkingDir = spec.dir;
  if (spec.user) body.User = spec.user;
  if (spec.hostname) body.Hostname = spec.hostname;
  if (spec.stopSignal) body.StopSignal = spec.stopSignal;
  return body;
}

function mount(m: MountSpec, taskId: string): Record<string, unknown> {
  switch (m.type) {
    case 'bind':
      return { Type: 'bind', Source: m.source, Target: m.target, ReadOnly: !!m.readOnly };
    case 'volume':
      return { Type: 'volume', Source: m.source, Target: m.target, ReadOnly: !!m.readOnly, ...(m.volumeLabels ? { VolumeOptions: { Labels: m.volumeLabels } } : {}) };
    case 'tmpfs':
      return { Type: 'tmpfs', Target: m.target, ReadOnly: !!m.readOnly, ...(m.sizeBytes ? { TmpfsOptions: { SizeBytes: m.sizeBytes } } : {}) };
    default:
      throw new RuntimeError('INVALID_SPEC', `task ${taskId}: unknown mount type ${JSON.stringify((m as MountSpec).type)}`);
  }
}
