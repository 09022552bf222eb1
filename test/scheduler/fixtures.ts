/**
 * Node and task builders for the scheduler tests and the benchmark: the
 * smallest objects of the store's shapes that the scheduler reads.
 */
import type { Node, NodeAvailability, NodeState, Platform, Task, TaskSpec, TaskState } from '../../src/model/index.js';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;
/** NanoCPUs per CPU. */
export const CPU = 1e9;

export interface NodeOpts {
  cpus?: number;
  memGiB?: number;
  labels?: Record<string, string>;
  engineLabels?: Record<string, string>;
  state?: NodeState;
  availability?: NodeAvailability;
  role?: 'worker' | 'manager';
  hostname?: string;
  platform?: Platform;
  runtimes?: string[];
  images?: string[];
}

export function node(id: string, o: NodeOpts = {}): Node {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '2024-01-01T00:00:00Z',
    UpdatedAt: '2024-01-01T00:00:00Z',
    Spec: { Role: o.role ?? 'worker', Availability: o.availability ?? 'active', Labels: o.labels ?? {} },
    Description: {
      Hostname: o.hostname ?? `host-${id}`,
      Platform: o.platform ?? { OS: 'linux', Architecture: 'x86_64' },
      Resources: { NanoCPUs: (o.cpus ?? 4) * CPU, MemoryBytes: (o.memGiB ?? 8) * GiB },
      Engine: { Labels: o.engineLabels ?? {} },
      ...(o.runtimes ? { Runtimes: o.runtimes } : {}),
      ...(o.images ? { Images: o.images } : {}),
    },
    Status: { State: o.state ?? 'ready', Addr: '10.0.0.1' },
  };
}

export interface TaskOpts {
  service?: string;
  cpu?: number;
  memMiB?: number;
  constraints?: string[];
  spread?: string[];
  maxReplicas?: number;
  platforms?: Platform[];
  runtime?: string;
  nodeId?: string;
  state?: TaskState;
  spec?: TaskSpec;
}

export function task(id: string, o: TaskOpts = {}): Task {
  const spec: TaskSpec = o.spec ?? {
    ContainerSpec: { Image: 'busybox' },
    Resources: {
      Reservations: {
        ...(o.cpu !== undefined ? { NanoCPUs: Math.round(o.cpu * CPU) } : {}),
        ...(o.memMiB !== undefined ? { MemoryBytes: o.memMiB * MiB } : {}),
      },
    },
    Placement: {
      ...(o.constraints ? { Constraints: o.constraints } : {}),
      ...(o.spread ? { Preferences: o.spread.map((d) => ({ Spread: { SpreadDescriptor: d } })) } : {}),
      ...(o.maxReplicas !== undefined ? { MaxReplicas: o.maxReplicas } : {}),
      ...(o.platforms ? { Platforms: o.platforms } : {}),
    },
    ...(o.runtime ? { Runtime: o.runtime } : {}),
  };
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '2024-01-01T00:00:00Z',
    UpdatedAt: '2024-01-01T00:00:00Z',
    Spec: spec,
    ServiceID: o.service ?? 'svc',
    Slot: 1,
    NodeID: o.nodeId ?? '',
    Status: { State: o.state ?? (o.nodeId ? 'running' : 'pending'), Timestamp: '2024-01-01T00:00:00Z', Message: '' },
    DesiredState: 'running',
  };
}

/** n tasks t0..t{n-1} (with a prefix) sharing the same options. */
export function tasks(n: number, o: TaskOpts = {}, prefix = 't'): Task[] {
  return Array.from({ length: n }, (_, i) => task(`${prefix}${i}`, o));
}

/** nodeId → number of placements, for asserting distributions. */
export function histogram(placed: { nodeId: string }[]): Record<string, number> {
  const h: Record<string, number> = {};
  for (const p of placed) h[p.nodeId] = (h[p.nodeId] ?? 0) + 1;
  return h;
}
