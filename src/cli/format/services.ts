/** `shoal service ls` rows and `shoal service inspect --pretty`, in docker's columns and wording. */
import type { EndpointPortConfig, Service, ServiceSpec } from '../../model/index.js';
import type { ServiceStatus } from '../../manager/api/shapes.js';
import { formatBytes, formatDuration } from '../units.js';
import { aligned } from './nodes.js';
import { shortId, type Columns, type Row } from './table.js';

export type ListedService = Service & { ServiceStatus?: ServiceStatus };

export const SERVICE_COLUMNS: Columns = [
  ['ID', 'ID'],
  ['NAME', 'Name'],
  ['MODE', 'Mode'],
  ['REPLICAS', 'Replicas'],
  ['IMAGE', 'Image'],
  ['PORTS', 'Ports'],
];

export function modeOf(spec: ServiceSpec): string {
  const m = spec.Mode;
  if (m.Global) return 'global';
  if (m.ReplicatedJob) return 'replicated job';
  if (m.GlobalJob) return 'global job';
  return 'replicated';
}

/** The image without its digest, as docker lists it; "-" for a process-runtime service that has none. */
export function imageOf(spec: ServiceSpec | undefined): string {
  const image = spec?.TaskTemplate?.ContainerSpec?.Image ?? '';
  return image === '' ? '-' : image.replace(/@sha256:[0-9a-f]+$/, '');
}

/** `*:8080->80/tcp`, the ingress-published ports (docker's service ls shows only those). */
export function portsOf(ports: readonly EndpointPortConfig[] | undefined, mode: 'ingress' | 'host' = 'ingress'): string {
  return (ports ?? [])
    .filter((p) => (p.PublishMode ?? 'ingress') === mode && p.PublishedPort)
    .map((p) => `*:${p.PublishedPort}->${p.TargetPort}/${p.Protocol ?? 'tcp'}`)
    .join(', ');
}

export function replicasOf(s: ListedService): string {
  const st = s.ServiceStatus;
  const m = s.Spec.Mode;
  if (!st) return m.Replicated ? `?/${m.Replicated.Replicas ?? 1}` : '';
  let r = `${st.RunningTasks}/${st.DesiredTasks}`;
  const max = s.Spec.TaskTemplate.Placement?.MaxReplicas;
  if (m.Replicated && max) r += ` (max ${max} per node)`;
  if (m.ReplicatedJob) r += ` (${st.CompletedTasks}/${m.ReplicatedJob.TotalCompletions ?? 1} completed)`;
  return r;
}

export function serviceRow(s: ListedService, noTrunc = false): Row {
  return {
    ID: shortId(s.ID, noTrunc),
    Name: s.Spec.Name,
    Mode: modeOf(s.Spec),
    Replicas: replicasOf(s),
    Image: imageOf(s.Spec),
    Ports: portsOf(s.Endpoint?.Ports ?? s.Spec.EndpointSpec?.Ports),
  };
}

/** A subset of docker's `service inspect --pretty` template: the fields a person checks. */
export function prettyService(s: Service): string {
  const spec = s.Spec;
  const t = spec.TaskTemplate;
  const c = t.ContainerSpec;
  const L: (readonly [string, string] | string)[] = [['ID', s.ID], ['Name', spec.Name]];
  const labels = Object.entries(spec.Labels ?? {});
  if (labels.length > 0) {
    L.push('Labels:');
    for (const [k, v] of labels) L.push(` ${k}=${v}`);
  }
  L.push(['Service Mode', modeOf(spec).replace(/^./, (x) => x.toUpperCase())]);
  if (spec.Mode.Replicated) L.push([' Replicas', String(spec.Mode.Replicated.Replicas ?? 1)]);
  if (s.UpdateStatus) L.push('UpdateStatus:', [' State', s.UpdateStatus.State], [' Message', s.UpdateStatus.Message ?? '']);
  const pl = t.Placement;
  if (pl?.Constraints?.length || pl?.Preferences?.length || pl?.MaxReplicas) {
    L.push('Placement:');
    if (pl.Constraints?.length) L.push([' Constraints', pl.Constraints.join(', ')]);
    if (pl.Preferences?.length) L.push([' Preferences', pl.Preferences.map((p) => `spread=${p.Spread.SpreadDescriptor}`).join(', ')]);
    if (pl.MaxReplicas) L.push([' Max Replicas Per Node', String(pl.MaxReplicas)]);
  }
  for (const [title, u] of [
    ['UpdateConfig', spec.UpdateConfig],
    ['RollbackConfig', spec.RollbackConfig],
  ] as const) {
    if (!u) continue;
    L.push(`${title}:`, [' Parallelism', String(u.Parallelism ?? 1)]);
    if (u.Delay) L.push([' Delay', formatDuration(u.Delay)]);
    L.push([' On failure', u.FailureAction ?? 'pause'], [' Monitoring Period', formatDuration(u.Monitor ?? 5e9)], [' Max failure ratio', String(u.MaxFailureRatio ?? 0)], [' Update order', u.Order ?? 'stop-first']);
  }
  L.push('ContainerSpec:', [' Image', c?.Image || '-']);
  if (c?.Command?.length) L.push([' Command', c.Command.join(' ')]);
  if (c?.Args?.length) L.push([' Args', c.Args.join(' ')]);
  if (c?.Env?.length) L.push([' Env', c.Env.join(' ')]);
  if (c?.Dir) L.push([' Dir', c.Dir]);
  if (c?.Mounts?.length) {
    L.push('Mounts:');
    for (const m of c.Mounts) L.push(` Target: ${m.Target}`, `  Source: ${m.Source ?? ''}`, `  ReadOnly: ${m.ReadOnly ?? false}`, `  Type: ${m.Type}`);
  }
  const rsv = t.Resources?.Reservations;
  const lim = t.Resources?.Limits;
  if (rsv?.NanoCPUs || rsv?.MemoryBytes || lim?.NanoCPUs || lim?.MemoryBytes) {
    L.push('Resources:');
    if (rsv?.NanoCPUs || rsv?.MemoryBytes) {
      L.push(' Reservations:');
      if (rsv.NanoCPUs) L.push(['  CPU', String(rsv.NanoCPUs / 1e9)]);
      if (rsv.MemoryBytes) L.push(['  Memory', formatBytes(rsv.MemoryBytes)]);
    }
    if (lim?.NanoCPUs || lim?.MemoryBytes) {
      L.push(' Limits:');
      if (lim.NanoCPUs) L.push(['  CPU', String(lim.NanoCPUs / 1e9)]);
      if (lim.MemoryBytes) L.push(['  Memory', formatBytes(lim.MemoryBytes)]);
    }
  }
  if (t.Runtime) L.push(['Runtime', t.Runtime]);
  L.push(['Endpoint Mode', spec.EndpointSpec?.Mode ?? 'vip']);
  const ports = spec.EndpointSpec?.Ports ?? [];
  if (ports.length > 0) {
    L.push('Ports:');
    for (const p of ports) L.push(` PublishedPort = ${p.PublishedPort ?? 0}`, `  Protocol = ${p.Protocol ?? 'tcp'}`, `  TargetPort = ${p.TargetPort}`, `  PublishMode = ${p.PublishMode ?? 'ingress'}`);
  }
  return aligned(L);
}
