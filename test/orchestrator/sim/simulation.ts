/**
 * A seeded simulation of a whole cluster around the orchestrator core: a
 * store (applying Decisions with the reference semantics), a round-robin
 * "scheduler", agents that move tasks forward (and sometimes crash them),
 * and a chaos phase of node deaths, recoveries, removals, drains, pauses,
 * label changes, scaling, spec updates (some with an image that crashes),
 * manual rollbacks, service creation and removal. The orchestrator is driven
 * the way its caller must drive it: on every store change and at wakeAt,
 * with one batch in flight at a time (some batches commit a few steps late,
 * while agents keep reporting).
 *
 * Invariants are checked at every step; after the chaos stops and time
 * passes, desired must equal running everywhere. One seed = one exact run.
 */
import { seededRng } from '../../../src/util/rng.js';
import { EventQueue } from '../../sim/event-queue.js';
import type { Rng } from '../../../src/util/rng.js';
import { reconcile } from '../../../src/manager/orchestrator/reconcile.js';
import { applyActions } from '../../../src/manager/orchestrator/apply.js';
import type { Action, OrchestratorView } from '../../../src/manager/orchestrator/interface.js';
import { OrchestratorMetrics } from '../../../src/manager/orchestrator/metrics.js';
import { isTerminal, stateRank } from '../../../src/model/index.js';
import type { Node, Service, ServiceSpec, Task, TaskState, UpdateConfig } from '../../../src/model/index.js';
import { convergence, copiesInvariant, delayInvariant, historyInvariant, placementInvariant, slotInvariant } from './invariants.js';

export interface SimOptions {
  /** Length of the fault phase (simulated ms). */
  chaosMs?: number;
  /** Time allowed to converge after the faults stop. */
  healMs?: number;
  trace?: boolean;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  failure?: string;
  steps: number;
  reconciles: number;
  actions: number;
  /** Simulated ms from the end of the faults to convergence. */
  convergedAfterMs: number;
  metrics: OrchestratorMetrics['totals'];
  trace: string[];
}

const T0 = 1_700_000_000_000;
const MS_NS = 1_000_000;
const AGENT_STAGES: TaskState[] = ['assigned', 'accepted', 'preparing', 'ready', 'starting', 'running'];

class SimFailure extends Error {}

export function runSimulation(seed: number, o: SimOptions = {}): SimResult {
  const sim = new Sim(seed, o);
  try {
    sim.run();
    return sim.result(true);
  } catch (e) {
    if (e instanceof SimFailure) return sim.result(false, e.message);
    return sim.result(false, `exception: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
}

class Sim {
  private readonly rng: Rng;
  private readonly agentRng: Rng;
  private readonly q = new EventQueue(T0);
  private get now(): number {
    return this.q.now;
  }
  private version = 1;
  private steps = 0;
  private reconciles = 0;
  private actionCount = 0;
  private idn = 0;
  private services = new Map<string, Service>();
  private tasks = new Map<string, Task>();
  private nodes = new Map<string, Node>();
  private readonly historyLimit: number;
  private dirty = true;
  private wakeAt: number | null = null;
  private inFlight: { actions: Action[]; applyAtStep: number } | null = null;
  private readonly metrics = new OrchestratorMetrics();
  private readonly trace: string[] = [];
  private chaos = true;
  private convergedAfterMs = -1;
  private nodeSeq = 0;
  private svcSeq = 0;
  private imageSeq = 0;
  private readonly chaosMs: number;
  private readonly healMs: number;
  private readonly mayFinish = new Set<string>();
  private readonly stopAt = new Map<string, number>();
  /** When each node last became ready (its agent then stops what it should no longer run). */
  private readonly readySince = new Map<string, number>();

  constructor(
    readonly seed: number,
    private readonly o: SimOptions,
  ) {
    this.rng = seededRng(seed);
    this.agentRng = this.rng.fork();
    this.chaosMs = o.chaosMs ?? 40_000;
    this.healMs = o.healMs ?? 180_000;
    this.historyLimit = this.rng.pick([1, 2, 3, 5]);
    const n = this.rng.range(2, 6);
    for (let i = 0; i < n; i++) this.addNode();
    const s = this.rng.range(1, 4);
    for (let i = 0; i < s; i++) this.addService();
  }

  private log(line: string): void {
    if (this.o.trace) this.trace.push(`${((this.now - T0) / 1000).toFixed(2)}s ${line}`);
  }

  result(ok: boolean, failure?: string): SimResult {
    const r: SimResult = {
      seed: this.seed,
      ok,
      steps: this.steps,
      reconciles: this.reconciles,
      actions: this.actionCount,
      convergedAfterMs: this.convergedAfterMs,
      metrics: this.metrics.totals,
      trace: this.trace,
    };
    if (failure !== undefined) r.failure = `${failure} (at ${((this.now - T0) / 1000).toFixed(2)} s, step ${this.steps})`;
    return r;
  }

  private view(): OrchestratorView {
    return { services: [...this.services.values()], tasks: [...this.tasks.values()], nodes: [...this.nodes.values()], cluster: { taskHistoryLimit: this.historyLimit } };
  }

  private fail(what: string, details: string[]): never {
    throw new SimFailure(`${what}: ${details.slice(0, 5).join('; ')}`);
  }

  // ------------------------------------------------------------- main loop

  run(): void {
    const chaosEnd = T0 + this.chaosMs;
    const end = chaosEnd + this.healMs;
    let quietSince = -1;
    let converged = false;
    // One step of the world every 100–500 ms, as events on the shared queue, until it converged or time is up.
    const step = (): void => {
      this.steps++;
      if (this.chaos && this.now >= chaosEnd) this.heal();
      if (this.chaos) this.chaosEvent();
      this.schedule();
      this.agents();
      this.orchestrate();
      this.checkAlways();
      if (!this.chaos) {
        const problems = convergence(this.view(), { mayFinish: (s) => this.mayFinish.has(s.ID) });
        if (problems.length === 0 && this.inFlight === null) {
          if (quietSince < 0) quietSince = this.now;
          // Converged and stayed so for 10 s (nothing left that could undo it: a pending wake would).
          if (this.now - quietSince >= 10_000 && this.wakeAt === null) {
            this.convergedAfterMs = quietSince - chaosEnd;
            converged = true;
            return;
          }
        } else {
          quietSince = -1;
        }
      }
      if (this.now < end) this.q.after(this.rng.pick([100, 200, 250, 500]), step);
    };
    this.q.after(this.rng.pick([100, 200, 250, 500]), step);
    for (let e = this.q.next(); e !== undefined && !converged; e = this.q.next()) e.fire();
    if (converged) return;
    this.fail('no convergence after the faults stopped', convergence(this.view(), { mayFinish: (s) => this.mayFinish.has(s.ID) }));
  }

  /** The orchestrator's caller: reconcile on change or at wakeAt, one batch in flight at a time. */
  private orchestrate(): void {
    if (this.inFlight !== null) {
      if (this.steps < this.inFlight.applyAtStep) return;
      const { actions } = this.inFlight;
      this.inFlight = null;
      this.commit(actions, false);
    }
    for (let round = 0; ; round++) {
      if (!this.dirty && (this.wakeAt === null || this.now < this.wakeAt)) return;
      if (round >= 6) this.fail('no fixpoint', [`still deciding after ${round} rounds at the same instant`]);
      this.dirty = false;
      const d = reconcile(this.view(), this.now, () => `t${++this.idn}`);
      this.reconciles++;
      this.wakeAt = d.wakeAt;
      if (d.wakeAt !== null && d.wakeAt < this.now) this.fail('wakeAt in the past', [`${d.wakeAt} < ${this.now}`]);
      if (d.actions.length === 0) return;
      this.metrics.add(d.stats, d.actions.length);
      if (this.rng.chance(0.2)) {
        // Proposal latency: agents keep reporting before this batch commits.
        this.inFlight = { actions: d.actions, applyAtStep: this.steps + this.rng.range(1, 3) };
        return;
      }
      this.commit(d.actions, true);
    }
  }

  private commit(actions: Action[], fresh: boolean): void {
    for (const a of actions) {
      if (a.type === 'updateTask' && a.desiredState !== undefined) {
        const t = this.tasks.get(a.id);
        if (t && stateRank(a.desiredState) < stateRank(t.DesiredState)) this.fail('desired state moved backwards', [`${a.id} ${t.DesiredState} → ${a.desiredState}`]);
      }
      if (a.type === 'createTask') {
        const rp = a.task.Spec.RestartPolicy;
        const max = rp?.MaxAttempts ?? 0;
        if (max > 0 && !rp?.Window && (a.task.Orchestration?.Restarts ?? 0) > max) {
          this.fail('MaxAttempts exceeded', [`${a.task.ID} is restart ${a.task.Orchestration?.Restarts} of at most ${max}`]);
        }
      }
      if (a.type === 'createTask') this.log(`create ${a.task.ID} ${a.task.ServiceID}/${a.task.Slot || a.task.NodeID} ${a.task.DesiredState} ${a.task.Orchestration?.Reason} ${a.task.Spec.ContainerSpec?.Image}`);
      else if (a.type === 'updateTask') this.log(`update ${a.id} ${a.desiredState ?? ''} ${a.status?.State ?? ''} ${JSON.stringify(a.orchestration ?? {})}`);
      else if (a.type === 'deleteTask') this.log(`delete ${a.id}`);
      else this.log(`service ${a.id} ${a.updateStatus?.State ?? ''} ${a.spec ? `spec→${a.spec.TaskTemplate.ContainerSpec?.Image}` : ''}`);
    }
    this.actionCount += actions.length;
    const r = applyActions(this.view(), actions, ++this.version, this.now);
    for (const s of r.skipped) {
      if (s.action.type !== 'updateService') this.fail('task action skipped', [`${s.action.type} ${s.why}`]);
      this.log(`skipped stale ${s.action.type} ${s.action.id}: ${s.why}`);
    }
    this.services = new Map(r.view.services.map((s) => [s.ID, s]));
    this.tasks = new Map(r.view.tasks.map((t) => [t.ID, t]));
    this.dirty = true;
    if (fresh) {
      // Decided on exactly this state: everything it owes is done.
      const v = this.view();
      const p = [...historyInvariant(v, this.historyLimit), ...placementInvariant(v)];
      if (p.length > 0) this.fail('after a decision', p);
    }
  }

  private checkAlways(): void {
    const v = this.view();
    const p = [...slotInvariant(v), ...delayInvariant(v, this.now), ...copiesInvariant(v, this.now, this.readySince)];
    if (p.length > 0) this.fail('invariant', p);
  }

  // ------------------------------------------------------- the rest of the cluster

  private touch(): void {
    this.dirty = true;
    this.version++;
  }

  private setTask(t: Task): void {
    this.tasks.set(t.ID, { ...t, Version: { Index: ++this.version } });
    this.dirty = true;
  }

  private setStatus(t: Task, state: TaskState): void {
    this.setTask({ ...t, Status: { ...t.Status, State: state, Timestamp: new Date(this.now).toISOString(), Message: state } });
  }

  /** Round-robin over ready, active nodes that satisfy the constraints; global tasks come with their node. */
  private rr = 0;
  private schedule(): void {
    const nodes = [...this.nodes.values()].filter((n) => n.Status.State === 'ready' && n.Spec.Availability === 'active');
    for (const t of this.tasks.values()) {
      if (stateRank(t.DesiredState) > stateRank('running') || stateRank(t.Status.State) >= stateRank('assigned')) continue;
      if (t.NodeID !== '') {
        const n = this.nodes.get(t.NodeID);
        if (n && n.Status.State === 'ready') this.setStatus({ ...t }, 'assigned');
        continue;
      }
      const ok = nodes.filter((n) => matches(t, n));
      if (ok.length === 0) continue;
      const n = ok[this.rr++ % ok.length]!;
      this.setStatus({ ...t, NodeID: n.ID }, 'assigned');
    }
  }

  private agents(): void {
    const r = this.agentRng;
    for (const t of [...this.tasks.values()]) {
      const n = this.nodes.get(t.NodeID);
      if (!n || n.Status.State !== 'ready' || isTerminal(t.Status.State) || stateRank(t.Status.State) < stateRank('assigned')) continue;
      if (stateRank(t.DesiredState) > stateRank('running')) {
        // Stopping takes the task's grace period (SIGTERM, then SIGKILL): a replacement must not start meanwhile.
        let at = this.stopAt.get(t.ID);
        if (at === undefined) this.stopAt.set(t.ID, (at = this.now + r.pick([0, 0, 300, 1500, 4000])));
        if (this.now >= at) {
          this.stopAt.delete(t.ID);
          this.setStatus(t, 'shutdown');
        }
        continue;
      }
      if (t.Status.State === 'running') {
        if (!this.chaos) continue;
        const bad = t.Spec.ContainerSpec?.Image?.startsWith('bad') ?? false;
        if (bad && r.chance(0.4)) this.setStatus(t, 'failed');
        else if (r.chance(0.004)) this.setStatus(t, r.chance(0.7) ? 'failed' : 'complete');
        continue;
      }
      if (!r.chance(0.6)) continue;
      if (this.chaos && r.chance(0.01)) {
        this.setStatus(t, 'rejected');
        continue;
      }
      const i = AGENT_STAGES.indexOf(t.Status.State);
      const next = AGENT_STAGES[Math.min(i + 1 + r.int(2), AGENT_STAGES.length - 1)]!;
      // A task desired 'ready' is prepared but not started.
      const cap = t.DesiredState === 'running' ? 'running' : 'ready';
      const to = stateRank(next) > stateRank(cap) ? cap : next;
      if (to !== t.Status.State) this.setStatus(t, to);
    }
  }

  // ----------------------------------------------------------------- chaos

  private chaosEvent(): void {
    const r = this.rng;
    if (!r.chance(0.12)) return;
    const nodes = [...this.nodes.values()];
    const up = nodes.filter((n) => n.Status.State === 'ready');
    const svcs = [...this.services.values()];
    const pick = r.int(100);
    if (pick < 14) {
      if (up.length > 1) this.setNode(r.pick(up), { state: 'down' });
    } else if (pick < 26) {
      const down = nodes.filter((n) => n.Status.State !== 'ready');
      if (down.length > 0) this.setNode(r.pick(down), { state: 'ready' });
    } else if (pick < 33) {
      this.setNode(r.pick(nodes), { availability: r.pick(['drain', 'pause', 'active', 'active'] as const) });
    } else if (pick < 36) {
      this.setNode(r.pick(nodes), { state: r.pick(['unknown', 'disconnected'] as const) });
    } else if (pick < 40) {
      this.setNode(r.pick(nodes), { labels: r.chance(0.5) ? { zone: r.pick(['a', 'b']) } : {} });
    } else if (pick < 43) {
      const down = nodes.filter((n) => n.Status.State === 'down');
      if (down.length > 0 && nodes.length > 2) {
        const n = r.pick(down);
        this.nodes.delete(n.ID);
        this.touch();
        this.log(`node ${n.ID} removed`);
      }
      if (this.nodes.size < 7) this.addNode();
    } else if (pick < 60) {
      const reps = svcs.filter((s) => s.Spec.Mode.Replicated);
      if (reps.length > 0) {
        const s = r.pick(reps);
        const n = r.range(0, 7);
        this.putService({ ...s, Spec: { ...s.Spec, Mode: { Replicated: { Replicas: n } } } });
        this.log(`scale ${s.ID} → ${n}`);
      }
    } else if (pick < 82) {
      if (svcs.length > 0) this.specUpdate(r.pick(svcs));
    } else if (pick < 86) {
      const rolled = svcs.filter((s) => s.PreviousSpec !== undefined && s.UpdateStatus?.State !== 'rollback_started');
      if (rolled.length > 0) {
        const s = r.pick(rolled);
        this.putService({ ...s, Spec: s.PreviousSpec!, PreviousSpec: s.Spec, UpdateStatus: { State: 'rollback_started', StartedAt: new Date(this.now).toISOString(), Message: 'manually requested rollback' } });
        this.log(`manual rollback ${s.ID}`);
      }
    } else if (pick < 92) {
      if (this.services.size < 5) this.addService();
    } else if (pick < 95) {
      if (svcs.length > 1) {
        const s = r.pick(svcs);
        this.services.delete(s.ID);
        this.touch();
        this.log(`service ${s.ID} removed`);
      }
    } else {
      // An agent restart loses nothing but reports a running task as shut down unexpectedly.
      const running = [...this.tasks.values()].filter((t) => t.Status.State === 'running');
      if (running.length > 0) this.setStatus(r.pick(running), 'shutdown');
    }
  }

  private heal(): void {
    this.chaos = false;
    for (const n of this.nodes.values()) {
      if (n.Status.State !== 'ready' || n.Spec.Availability !== 'active') this.setNode(n, { state: 'ready', availability: 'active' });
    }
    this.log('--- faults stop');
  }

  private setNode(n: Node, p: { state?: Node['Status']['State']; availability?: Node['Spec']['Availability']; labels?: Record<string, string> }): void {
    const next: Node = {
      ...n,
      Version: { Index: ++this.version },
      Spec: { ...n.Spec, ...(p.availability ? { Availability: p.availability } : {}), ...(p.labels ? { Labels: p.labels } : {}) },
      Status: { ...n.Status, ...(p.state ? { State: p.state } : {}) },
    };
    this.nodes.set(n.ID, next);
    if (next.Status.State === 'ready' && n.Status.State !== 'ready') this.readySince.set(n.ID, this.now);
    this.touch();
    this.log(`node ${n.ID} ${JSON.stringify(p)}`);
  }

  private addNode(): void {
    const id = `n${++this.nodeSeq}`;
    const at = new Date(this.now).toISOString();
    this.nodes.set(id, {
      ID: id,
      Version: { Index: ++this.version },
      CreatedAt: at,
      UpdatedAt: at,
      Spec: { Role: this.nodeSeq === 1 ? 'manager' : 'worker', Availability: 'active', Labels: this.rng.chance(0.5) ? { zone: this.rng.pick(['a', 'b']) } : {} },
      Description: { Hostname: `host-${id}`, Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: {}, Engine: {} },
      Status: { State: 'ready', Addr: '127.0.0.1' },
    });
    this.touch();
    this.log(`node ${id} added`);
  }

  private updateConfig(): UpdateConfig {
    const r = this.rng;
    return {
      Parallelism: r.pick([0, 1, 1, 2, 3]),
      Delay: r.pick([0, 0, 500, 2000]) * MS_NS,
      Monitor: r.pick([0, 1000, 3000]) * MS_NS,
      FailureAction: r.pick(['pause', 'continue', 'rollback'] as const),
      MaxFailureRatio: r.pick([0, 0, 0.3]),
    };
  }

  private addService(): void {
    const r = this.rng;
    const id = `s${++this.svcSeq}`;
    const global = r.chance(0.25);
    const order = r.chance(0.35) ? 'start-first' : 'stop-first';
    const finite = r.chance(0.2);
    if (finite) this.mayFinish.add(id);
    const spec: ServiceSpec = {
      Name: id,
      TaskTemplate: {
        ContainerSpec: { Image: `app:${++this.imageSeq}` },
        RestartPolicy: finite
          ? { Condition: 'on-failure', Delay: r.pick([0, 1000]) * MS_NS, MaxAttempts: r.range(1, 3), ...(r.chance(0.5) ? { Window: 5000 * MS_NS } : {}) }
          : { Condition: 'any', Delay: r.pick([0, 500, 3000, 5000]) * MS_NS },
        ...(global && r.chance(0.4) ? { Placement: { Constraints: [r.pick(['node.labels.zone==a', 'node.labels.zone!=b', 'node.role==worker'])] } } : {}),
      },
      Mode: global ? { Global: {} } : { Replicated: { Replicas: r.range(1, 6) } },
      UpdateConfig: { ...this.updateConfig(), Order: order },
      RollbackConfig: { ...this.updateConfig(), Order: order },
    };
    const at = new Date(this.now).toISOString();
    this.services.set(id, { ID: id, Version: { Index: ++this.version }, CreatedAt: at, UpdatedAt: at, Spec: spec });
    this.touch();
    this.log(`service ${id} created ${global ? 'global' : `x${spec.Mode.Replicated!.Replicas}`} ${order}${finite ? ' finite' : ''}`);
  }

  /** What the API does on `docker service update`: new spec, PreviousSpec = old, UpdateStatus cleared. */
  private specUpdate(s: Service): void {
    const r = this.rng;
    const tpl = structuredClone(s.Spec.TaskTemplate);
    if (r.chance(0.2)) tpl.ForceUpdate = (tpl.ForceUpdate ?? 0) + 1;
    else tpl.ContainerSpec = { ...tpl.ContainerSpec, Image: `${r.chance(0.3) ? 'bad' : 'app'}:${++this.imageSeq}` };
    const spec: ServiceSpec = { ...s.Spec, TaskTemplate: tpl, UpdateConfig: { ...this.updateConfig(), Order: s.Spec.UpdateConfig?.Order ?? 'stop-first' } };
    const n: Service = { ...s, Spec: spec, PreviousSpec: s.Spec };
    delete n.UpdateStatus;
    this.putService(n);
    this.log(`update ${s.ID} → ${tpl.ContainerSpec?.Image} force=${tpl.ForceUpdate ?? 0}`);
  }

  private putService(s: Service): void {
    this.services.set(s.ID, { ...s, Version: { Index: ++this.version } });
    this.touch();
  }
}

/** The sim scheduler's own constraint check (node.labels.zone / node.role only, as the sim uses). */
function matches(t: Task, n: Node): boolean {
  for (const c of t.Spec.Placement?.Constraints ?? []) {
    const m = /^(node\.labels\.zone|node\.role)(==|!=)(.*)$/.exec(c);
    if (!m) return false;
    const v = m[1] === 'node.role' ? n.Spec.Role : n.Spec.Labels?.zone;
    if ((m[2] === '==') !== (v === m[3])) return false;
  }
  return true;
}
