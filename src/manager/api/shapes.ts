/**
 * Stored objects → the JSON Docker's clients decode. The store keeps what
 * was sent; here we add what Docker always returns (empty maps and lists
 * rather than null, the cluster's default sub-specs, task names) and remove
 * what must never leave a manager (the cluster's keys and secrets).
 */
import { isJobMode } from '../../model/index.js';
import type { Cluster, Node, Service, ServiceSpec, SwarmSpec, Task, TaskSpec, UpdateConfig } from '../../model/index.js';
import type { ManagerStatusInfo } from '../interface.js';

const SECOND = 1_000_000_000;

/** SwarmKit's default update/rollback config (api/defaults), which the CLI shows and edits. */
export function defaultUpdateConfig(): UpdateConfig {
  return { Parallelism: 1, FailureAction: 'pause', Monitor: 5 * SECOND, MaxFailureRatio: 0, Order: 'stop-first' };
}

/** The swarm as the API shows it: Docker's Swarm object, and nothing else. */
export type ClusterShape = Pick<Cluster, 'ID' | 'Version' | 'CreatedAt' | 'UpdatedAt' | 'JoinTokens' | 'RootRotationInProgress'> & {
  Spec: SwarmSpec & Record<string, unknown>;
  TLSInfo: unknown;
  DefaultAddrPool: string[];
  SubnetSize: number;
  DataPathPort: number;
};

/**
 * The stored cluster object carries key material that must never leave a
 * manager: the root secret, the gossip key, the CA's key, and whatever key
 * later work adds. So the shape is built from Docker's Swarm fields by name
 * (an allow-list: a new stored field stays private until it is named here),
 * and the one secret Docker's own spec can carry, `CAConfig.SigningCAKey`
 * (SwarmKit redacts it too), is removed from the spec.
 */
export function clusterShape(c: Cluster): ClusterShape {
  const spec = c.Spec ?? { Name: 'default' };
  const { SigningCAKey: _key, ...caConfig } = (spec.CAConfig ?? {}) as NonNullable<SwarmSpec['CAConfig']> & { SigningCAKey?: unknown };
  return {
    ID: c.ID,
    Version: c.Version,
    CreatedAt: c.CreatedAt,
    UpdatedAt: c.UpdatedAt,
    Spec: {
      ...spec,
      Labels: spec.Labels ?? {},
      Orchestration: spec.Orchestration ?? {},
      Raft: spec.Raft ?? {},
      Dispatcher: spec.Dispatcher ?? {},
      CAConfig: caConfig,
      EncryptionConfig: spec.EncryptionConfig ?? { AutoLockManagers: false },
      TaskDefaults: spec.TaskDefaults ?? {},
    },
    // The trust root is public (every node and admin bundle holds it); its key is not.
    TLSInfo: c.ShoalCA ? { TrustRoot: c.ShoalCA.CertPem } : {},
    RootRotationInProgress: c.ShoalCARotation !== undefined,
    DefaultAddrPool: c.DefaultAddrPool ?? ['10.0.0.0/8'],
    SubnetSize: c.SubnetSize ?? 24,
    DataPathPort: c.DataPathPort ?? 4789,
    JoinTokens: c.JoinTokens,
  };
}

/**
 * `live`: Raft's view at the serving manager. Leadership and reachability
 * change without any store write, so they are filled in at read time, not
 * stored (a stored "Leader: true" would be stale after every failover).
 */
export function nodeShape(n: Node, live?: ManagerStatusInfo): Node {
  const d = n.Description ?? ({} as Node['Description']);
  const m = live?.managers.find((x) => x.nodeId === n.ID);
  const managerStatus = n.ManagerStatus
    ? {
        ManagerStatus: {
          ...n.ManagerStatus,
          ...(live ? { Leader: live.leaderId === n.ID } : {}),
          // A learner still catching up is not yet a manager that counts: "unknown", as Swarm shows a joining manager.
          ...(m ? { Reachability: !m.voter ? ('unknown' as const) : m.reachable ? ('reachable' as const) : ('unreachable' as const), Addr: m.addr || n.ManagerStatus.Addr } : {}),
        },
      }
    : {};
  return {
    ...n,
    ...managerStatus,
    Spec: { ...n.Spec, Labels: n.Spec.Labels ?? {} },
    Description: {
      ...d,
      Hostname: d.Hostname ?? '',
      Platform: d.Platform ?? { Architecture: '', OS: '' },
      Resources: d.Resources ?? {},
      Engine: { ...d.Engine, Labels: d.Engine?.Labels ?? {}, Plugins: d.Engine?.Plugins ?? [] },
    },
    Status: { ...n.Status, State: n.Status?.State ?? 'unknown', Addr: n.Status?.Addr ?? '' },
  };
}

export interface ServiceStatus {
  RunningTasks: number;
  DesiredTasks: number;
  CompletedTasks: number;
}

export function serviceShape(s: Service, status?: ServiceStatus): Service & { ServiceStatus?: ServiceStatus } {
  const endpointSpec = s.Spec.EndpointSpec ?? { Mode: 'vip' };
  const ports = (endpointSpec.Ports ?? []).map((p) => ({ Protocol: 'tcp' as const, PublishMode: 'ingress' as const, ...p }));
  return {
    ...s,
    Spec: specShape(s.Spec),
    ...(s.PreviousSpec ? { PreviousSpec: specShape(s.PreviousSpec) } : {}),
    // An allocator may store the real endpoint (assigned ports, VIPs); until then, the spec's.
    Endpoint: s.Endpoint ?? { Spec: endpointSpec, ...(ports.length > 0 ? { Ports: ports } : {}) },
    ...(status ? { ServiceStatus: status } : {}),
  };
}

function specShape(spec: ServiceSpec): ServiceSpec {
  return { ...spec, Labels: spec.Labels ?? {} };
}

/** Docker's display name of a task: `service.slot`, or `service.nodeID` for global services. */
export function taskName(t: Task, serviceName: string | undefined): string {
  if (t.Name) return t.Name;
  const base = serviceName ?? t.ServiceID;
  return t.Slot > 0 ? `${base}.${t.Slot}` : `${base}.${t.NodeID}`;
}

export function taskShape(t: Task, serviceName: string | undefined): Task {
  return { ...t, Name: taskName(t, serviceName), Labels: t.Labels ?? {} };
}

/**
 * `?insertDefaults=true`: the spec with SwarmKit's defaults filled in where
 * the client left a field unset (`docker service update` edits this, so its
 * relative flags start from the effective values).
 */
export function withServiceDefaults(spec: ServiceSpec): ServiceSpec {
  const t: TaskSpec = spec.TaskTemplate ?? {};
  const c = t.ContainerSpec;
  const job = isJobMode(spec.Mode);
  return {
    ...spec,
    TaskTemplate: {
      ...t,
      ...(c ? { ContainerSpec: { ...c, StopGracePeriod: c.StopGracePeriod ?? 10 * SECOND, DNSConfig: c.DNSConfig ?? {} } } : {}),
      Resources: { Limits: {}, Reservations: {}, ...t.Resources },
      // A job's stored spec always names its condition (validate/service-spec.ts jobRules).
      RestartPolicy: { Condition: 'any', Delay: 5 * SECOND, MaxAttempts: 0, ...t.RestartPolicy },
      Placement: { ...t.Placement },
    },
    // Jobs have no rolling update (validate/service-spec.ts jobRules): no configs to default.
    ...(job ? {} : { UpdateConfig: { ...defaultUpdateConfig(), ...stripUndef(spec.UpdateConfig) }, RollbackConfig: { ...defaultUpdateConfig(), ...stripUndef(spec.RollbackConfig) } }),
    EndpointSpec: { Mode: 'vip', ...spec.EndpointSpec },
  };
}

function stripUndef<T extends object>(o: T | undefined): Partial<T> {
  if (!o) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}

/** JSON with sorted keys: equality of specs regardless of key order. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.keys(x)
            .sort()
            .map((k) => [k, (x as Record<string, unknown>)[k]]),
        )
      : x,
  );
}
