/**
 * A tiny in-memory cluster for orchestrator unit tests: builders for nodes and
 * services, a store that applies Decisions with the reference semantics
 * (applyActions), and hand-driven "scheduler" and "agent" steps.
 *
 * Every view handed to reconcile is deep-frozen: a core that mutated its input
 * would throw here.
 */
import { reconcile } from '../../src/manager/orchestrator/reconcile.js';
import { applyActions } from '../../src/manager/orchestrator/apply.js';
import type { Action, Decision, OrchestratorView } from '../../src/manager/orchestrator/interface.js';
import type { OrchestratorOptions } from '../../src/manager/orchestrator/options.js';
import { isTerminal, stateRank } from '../../src/model/index.js';
import type { Node, NodeAvailability, NodeState, RestartPolicy, Service, ServiceSpec, Task, TaskState, UpdateConfig } from '../../src/model/index.js';

export const T0 = 1_700_000_000_000;
export const SEC = 1_000;
export const NS = 1_000_000; // ns per ms

export interface NodeOpts {
  state?: NodeState;
  availability?: NodeAvailability;
  role?: 'worker' | 'manager';
  labels?: Record<string, string>;
  hostname?: string;
  engineLabels?: Record<string, string>;
}

export function mkNode(id: string, o: NodeOpts = {}): Node {
  const at = new Date(T0).toISOString();
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: at,
    UpdatedAt: at,
    Spec: { Role: o.role ?? 'worker', Availability: o.availability ?? 'active', Labels: o.labels ?? {} },
    Description: {
      Hostname: o.hostname ?? `host-${id}`,
      Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: 4e9, MemoryBytes: 8 << 30 },
      Engine: { Labels: o.engineLabels ?? {} },
    },
    Status: { State: o.state ?? 'ready', Addr: '10.0.0.1' },
  };
}

export interface ServiceOpts {
  replicas?: number;
  global?: boolean;
  image?: string;
  restart?: RestartPolicy;
  update?: UpdateConfig;
  rollback?: UpdateConfig;
  constraints?: string[];
  name?: string;
}

export function mkSpec(o: ServiceOpts = {}): ServiceSpec {
  const spec: ServiceSpec = {
    Name: o.name ?? 'web',
    TaskTemplate: { ContainerSpec: { Image: o.image ?? 'busybox:1' } },
    Mode: o.global ? { Global: {} } : { Replicated: { Replicas: o.replicas ?? 3 } },
  };
  if (o.restart) spec.TaskTemplate.RestartPolicy = o.restart;
  if (o.constraints) spec.TaskTemplate.Placement = { Constraints: o.constraints };
  if (o.update) spec.UpdateConfig = o.update;
  if (o.rollback) spec.RollbackConfig = o.rollback;
  return spec;
}

export function mkService(id: string, o: ServiceOpts = {}): Service {
  const at = new Date(T0).toISOString();
  return { ID: id, Version: { Index: 1 }, CreatedAt: at, UpdatedAt: at, Spec: mkSpec(o) };
}

export function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

export class World {
  services: Service[] = [];
  tasks: Task[] = [];
  nodes: Node[] = [];
  historyLimit: number | undefined = undefined;
  now = T0;
  version = 10;
  private idn = 0;
  opts: Partial<OrchestratorOptions> = {};
  readonly ids = (): string => `t${String(++this.idn).padStart(4, '0')}`;

  constructor(nodes: Node[] = [], services: Service[] = []) {
    this.nodes = nodes;
    this.services = services;
  }

  view(): OrchestratorView {
    const v: OrchestratorView = { services: this.services, tasks: this.tasks, nodes: this.nodes };
    return this.historyLimit === undefined ? v : { ...v, cluster: { taskHistoryLimit: this.historyLimit } };
  }

  /** Decide without applying. */
  decide(opts: Partial<OrchestratorOptions> = {}): Decision {
    const v0 = this.view();
    // Fresh arrays, frozen objects: the World replaces objects, never mutates them.
    const v = { ...v0, services: [...v0.services], tasks: [...v0.tasks], nodes: [...v0.nodes] };
    deepFreeze(v);
    return reconcile(v, this.now, this.ids, { ...this.opts, ...opts });
  }

  apply(actions: readonly Action[]): void {
    const r = applyActions(this.view(), actions, ++this.version, this.now);
    this.services = [...r.view.services];
    this.tasks = [...r.view.tasks];
  }

  /** Decide and apply. */
  step(opts: Partial<OrchestratorOptions> = {}): Decision {
    const d = this.decide(opts);
    this.apply(d.actions);
    return d;
  }

  /** Step until nothing is left to do at this instant (or throw after `max` rounds). */
  settle(max = 10): Decision {
    let last: Decision | undefined;
    for (let i = 0; i < max; i++) {
      const d = this.step();
      if (d.actions.length === 0) return d;
      last = d;
    }
    throw new Error(`no fixpoint after ${max} rounds; last actions ${JSON.stringify(last?.actions.map((a) => a.type))}`);
  }

  task(id: string): Task {
    const t = this.tasks.find((x) => x.ID === id);
    if (!t) throw new Error(`no task ${id}`);
    return t;
  }
  service(id: string): Service {
    const s = this.services.find((x) => x.ID === id);
    if (!s) throw new Error(`no service ${id}`);
    return s;
  }
  of(serviceId: string): Task[] {
    return this.tasks.filter((t) => t.ServiceID === serviceId);
  }
  /** Tasks the orchestrator wants to run (desired ready or running). */
  live(serviceId: string): Task[] {
    return this.of(serviceId).filter((t) => stateRank(t.DesiredState) <= stateRank('running'));
  }
  slot(serviceId: string, slot: number): Task[] {
    return this.of(serviceId).filter((t) => t.Slot === slot);
  }
  liveInSlot(serviceId: string, slot: number): Task[] {
    return this.live(serviceId).filter((t) => t.Slot === slot);
  }

  patchTask(id: string, f: (t: Task) => Task): void {
    this.tasks = this.tasks.map((t) => (t.ID === id ? { ...f(t), Version: { Index: ++this.version } } : t));
  }
  /** What an agent reports. */
  setStatus(id: string, state: TaskState, extra: { exitCode?: number } = {}): void {
    this.patchTask(id, (t) => ({
      ...t,
      Status: {
        ...t.Status,
        State: state,
        Timestamp: new Date(this.now).toISOString(),
        Message: state,
        ...(extra.exitCode !== undefined ? { ContainerStatus: { ExitCode: extra.exitCode } } : {}),
      },
    }));
  }
  /** What the scheduler does. */
  assign(id: string, nodeId: string): void {
    this.patchTask(id, (t) => ({ ...t, NodeID: nodeId, Status: { ...t.Status, State: 'assigned', Timestamp: new Date(this.now).toISOString() } }));
  }
  /** Assign every unassigned live task round-robin over ready+active nodes; global tasks (NodeID preset) are just moved to assigned. */
  schedule(): void {
    const eligible = this.nodes.filter((n) => n.Status.State === 'ready' && n.Spec.Availability === 'active');
    let i = 0;
    for (const t of [...this.tasks].sort((a, b) => (a.ID < b.ID ? -1 : 1))) {
      if (stateRank(t.DesiredState) > stateRank('running') || stateRank(t.Status.State) >= stateRank('assigned')) continue;
      if (t.NodeID !== '') {
        this.assign(t.ID, t.NodeID);
        continue;
      }
      if (eligible.length === 0) continue;
      this.assign(t.ID, eligible[i++ % eligible.length]!.ID);
    }
  }
  /** Agents on up nodes: run what should run (as far as desired allows), stop what should stop. */
  runAgents(): void {
    for (const t of this.tasks) {
      const n = this.nodes.find((x) => x.ID === t.NodeID);
      if (!n || n.Status.State === 'down' || isTerminal(t.Status.State) || stateRank(t.Status.State) < stateRank('assigned')) continue;
      if (stateRank(t.DesiredState) > stateRank('running')) this.setStatus(t.ID, 'shutdown');
      else if (t.DesiredState === 'running' && t.Status.State !== 'running') this.setStatus(t.ID, 'running');
      else if (t.DesiredState === 'ready' && stateRank(t.Status.State) < stateRank('ready')) this.setStatus(t.ID, 'ready');
    }
  }
  /** Reconcile, schedule and run agents until the cluster stops changing at this instant. */
  converge(max = 20): void {
    for (let i = 0; i < max; i++) {
      const before = JSON.stringify(this.tasks) + JSON.stringify(this.services);
      this.settle();
      this.schedule();
      this.runAgents();
      if (JSON.stringify(this.tasks) + JSON.stringify(this.services) === before) return;
    }
    throw new Error('did not converge');
  }

  setNode(id: string, f: (n: Node) => Node): void {
    this.nodes = this.nodes.map((n) => (n.ID === id ? { ...f(n), Version: { Index: ++this.version } } : n));
  }
  nodeState(id: string, state: NodeState): void {
    this.setNode(id, (n) => ({ ...n, Status: { ...n.Status, State: state } }));
  }
  availability(id: string, a: NodeAvailability): void {
    this.setNode(id, (n) => ({ ...n, Spec: { ...n.Spec, Availability: a } }));
  }
  /** What the API does on `docker service update`: PreviousSpec = old spec, UpdateStatus cleared. */
  updateSpec(id: string, f: (s: ServiceSpec) => ServiceSpec): void {
    this.services = this.services.map((s) => {
      if (s.ID !== id) return s;
      const n: Service = { ...s, PreviousSpec: s.Spec, Spec: f(structuredClone(s.Spec)), Version: { Index: ++this.version } };
      delete n.UpdateStatus;
      return n;
    });
  }
  /** A change that does not touch the task template (e.g. scale). */
  setSpec(id: string, f: (s: ServiceSpec) => ServiceSpec): void {
    this.services = this.services.map((s) => (s.ID === id ? { ...s, Spec: f(structuredClone(s.Spec)), Version: { Index: ++this.version } } : s));
  }
  scale(id: string, replicas: number): void {
    this.setSpec(id, (s) => ({ ...s, Mode: { Replicated: { Replicas: replicas } } }));
  }
  advance(ms: number): void {
    this.now += ms;
  }
}

/** Invariant: per replicated slot / global node, at most one running-desired non-terminal task, or two in a start-first window (different specs). */
export function slotViolations(view: OrchestratorView): string[] {
  const out: string[] = [];
  const byKey = new Map<string, Task[]>();
  const svc = new Map(view.services.map((s) => [s.ID, s]));
  for (const t of view.tasks) {
    if (t.DesiredState !== 'running' || isTerminal(t.Status.State)) continue;
    const s = svc.get(t.ServiceID);
    if (!s) continue;
    const key = s.Spec.Mode.Global || s.Spec.Mode.GlobalJob ? `${t.ServiceID}/node:${t.NodeID}` : `${t.ServiceID}/slot:${t.Slot}`;
    const l = byKey.get(key) ?? [];
    l.push(t);
    byKey.set(key, l);
  }
  for (const [key, ts] of byKey) {
    if (ts.length <= 1) continue;
    const s = svc.get(ts[0]!.ServiceID)!;
    const startFirst = s.Spec.UpdateConfig?.Order === 'start-first' || s.Spec.RollbackConfig?.Order === 'start-first' || s.PreviousSpec?.UpdateConfig?.Order === 'start-first';
    const distinctSpecs = new Set(ts.map((t) => JSON.stringify(t.Spec))).size === ts.length;
    if (ts.length === 2 && startFirst && distinctSpecs) continue;
    out.push(`${key}: ${ts.length} running-desired tasks (${ts.map((t) => `${t.ID}:${t.Status.State}`).join(', ')})`);
  }
  return out;
}

export function summarize(ts: readonly Task[]): string[] {
  return ts.map((t) => `${t.ID} slot=${t.Slot} node=${t.NodeID || '-'} desired=${t.DesiredState} state=${t.Status.State} image=${t.Spec.ContainerSpec?.Image}`);
}
