import { taskRuntimeOn, type Service, type Task } from '../../model/index.js';
import type { MountSpec, TaskRunSpec } from '../runtime/interface.js';
import type { Materialized } from './secret-files.js';

/** Docker's default stop grace period: 10 s. */
export const DEFAULT_STOP_GRACE_MS = 10_000;

/** The runtime a task runs on: its template's Runtime when it names one of ours, else the node's default. */
export function runtimeFor(task: Task, defaultRuntime: string): string {
  return taskRuntimeOn(task.Spec.Runtime, [defaultRuntime]);
}

export function stopGraceMs(task: Task): number {
  const ns = task.Spec.ContainerSpec?.StopGracePeriod;
  return typeof ns === 'number' && ns >= 0 ? Math.round(ns / 1e6) : DEFAULT_STOP_GRACE_MS;
}

/** `web.3` for replicated tasks, `web.<node>` for global ones — Docker's task naming. */
export function taskName(task: Task, serviceName?: string): string {
  const svc = serviceName ?? task.Name?.split('.')[0] ?? task.ServiceID.slice(0, 12);
  return `${svc}.${task.Slot > 0 ? task.Slot : task.NodeID}.${task.ID}`;
}

/** Translates a task's ContainerSpec into what a runtime needs. */
export function toRunSpec(task: Task, service?: Pick<Service, 'Spec'>): TaskRunSpec {
  const c = task.Spec.ContainerSpec ?? { Image: '' };
  const limits = task.Spec.Resources?.Limits ?? {};
  const mounts: MountSpec[] = (c.Mounts ?? []).flatMap((m): MountSpec[] => {
    if (m.Type !== 'bind' && m.Type !== 'volume' && m.Type !== 'tmpfs') return [];
    return [
      {
        type: m.Type,
        target: m.Target,
        ...(m.Source ? { source: m.Source } : {}),
        ...(m.ReadOnly ? { readOnly: true } : {}),
        ...(m.TmpfsOptions?.SizeBytes ? { sizeBytes: m.TmpfsOptions.SizeBytes } : {}),
        ...(m.Type === 'volume' && m.VolumeOptions?.Labels && Object.keys(m.VolumeOptions.Labels).length > 0 ? { volumeLabels: m.VolumeOptions.Labels } : {}),
      },
    ];
  });
  return {
    taskId: task.ID,
    name: taskName(task, service?.Spec.Name),
    image: c.Image,
    ...(c.Command && c.Command.length > 0 ? { command: c.Command } : {}),
    ...(c.Args && c.Args.length > 0 ? { args: c.Args } : {}),
    env: c.Env ?? [],
    ...(c.Dir ? { dir: c.Dir } : {}),
    ...(c.User ? { user: c.User } : {}),
    ...(c.Hostname ? { hostname: c.Hostname } : {}),
    mounts,
    limits: {
      ...(limits.NanoCPUs ? { nanoCpus: limits.NanoCPUs } : {}),
      ...(limits.MemoryBytes ? { memoryBytes: limits.MemoryBytes } : {}),
      ...(limits.Pids ? { pids: limits.Pids } : {}),
    },
    ...(c.StopSignal ? { stopSignal: c.StopSignal } : {}),
    labels: {
      'com.docker.swarm.task.id': task.ID,
      'com.docker.swarm.service.id': task.ServiceID,
      'com.docker.swarm.node.id': task.NodeID,
      ...(c.Labels ?? {}),
    },
  };
}

/**
 * Hands a task its secret and config files: container runtimes get each file
 * bind-mounted read-only at its target (/run/secrets/<name>, /<config>); a
 * process task, which has no mount namespace, gets the directories in
 * SHOAL_SECRETS_DIR and SHOAL_CONFIGS_DIR.
 */
export function withSecretFiles(spec: TaskRunSpec, m: Materialized, runtime: string): TaskRunSpec {
  if (runtime === 'process') {
    return { ...spec, env: [...spec.env, `SHOAL_SECRETS_DIR=${m.dir}/secrets`, `SHOAL_CONFIGS_DIR=${m.dir}/configs`] };
  }
  return { ...spec, mounts: [...spec.mounts, ...m.files.map((f): MountSpec => ({ type: 'bind', source: f.hostPath, target: f.target, readOnly: true }))] };
}

export function usesSecrets(task: Task): boolean {
  const c = task.Spec.ContainerSpec;
  return (c?.Secrets?.length ?? 0) > 0 || (c?.Configs?.length ?? 0) > 0;
}

/**
 * What a process task (in its node's own network namespace) needs to take
 * part in the overlay: `SHOAL_PORT_<target>=<host port>` for each host port
 * the store gave it (Status.PortStatus, PublishMode host), `PORT` = the first
 * (Nomad's and Heroku's convention), and `SHOAL_DNS` = the gateway of its
 * first non-ingress network, where the node's embedded resolver answers the
 * service names of that network (the node serves the network while it runs
 * the task, so the address is on the node's bridge) — unless `resolver` is
 * false (the node has no overlay data plane).
 */
export function withProcessNetworking(spec: TaskRunSpec, task: Task, opts: { resolver: boolean } = { resolver: true }): TaskRunSpec {
  const env: string[] = [];
  const seen = new Set<number>();
  for (const p of task.Status.PortStatus?.Ports ?? []) {
    if (p.PublishMode !== 'host' || !p.PublishedPort || seen.has(p.TargetPort)) continue;
    seen.add(p.TargetPort);
    if (env.length === 0) env.push(`PORT=${p.PublishedPort}`);
    env.push(`SHOAL_PORT_${p.TargetPort}=${p.PublishedPort}`);
  }
  // Only where the node has a data plane: without one no bridge holds the gateway and nothing answers there.
  const dns = opts.resolver && (task.NetworksAttachments ?? []).find((a) => !a.Network.Spec.Ingress && a.Network.Spec.IPAM?.Config?.[0]?.Gateway);
  if (dns) env.push(`SHOAL_DNS=${dns.Network.Spec.IPAM!.Config![0]!.Gateway}`);
  return env.length === 0 ? spec : { ...spec, env: [...spec.env, ...env] };
}
