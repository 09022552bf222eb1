/**
 * The whole-cluster deterministic simulation: in one process, from one seed,
 *
 * - three managers, each the real Raft core (src/raft/core.ts) over an
 *   in-memory log, applying committed entries to the real store
 *   (src/manager/store/store.ts), and on each the real manager components a
 *   node runs: the dispatcher (agent sessions, assignments, status reports),
 *   the fencing lease service (renewals, follower reports, revocations, the
 *   down decision), and on the leader the orchestrator and scheduler loops;
 * - N workers, each the real agent (task controllers, the task store) with
 *   the real session client and the supervisor's real lease keeper, over a
 *   simulated runtime that keeps the supervisor's fence (sim-runtime.ts);
 * - between all of them the real wire (codec, handshake, keepalive,
 *   requests, streams) over a simulated TCP network (test/sim/transport.ts);
 * - clients creating and scaling services, acknowledged only once applied;
 * - faults: message delay and loss, partitions, manager crashes (losing what
 *   was not persisted) and restarts, machine crashes and restarts.
 *
 * What is simulated rather than run: the Raft driver (this file persists a
 * Ready, sends it on, and applies what is committed, as the driver does),
 * node joins (the first leader creates the node objects), and the task
 * processes (sim-runtime.ts).
 *
 * Checked whenever a task starts running or a machine comes back: no slot of
 * a replicated service runs twice at the same time. At the end, after the
 * faults stop: every acknowledged write survives in every manager's store,
 * and desired equals running. Time, randomness and the network are the
 * simulation's; one seed is one exact run.
 */
import { RaftCore } from '../../src/raft/core.js';
import { LeaderAuthority } from '../../src/raft/authority.js';
import type { Message, NodeId, Ready } from '../../src/raft/interface.js';
import { Store } from '../../src/manager/store/store.js';
import { encodeTxn, type StoreOp, type TxnResult } from '../../src/manager/store/commands.js';
import { reconcile } from '../../src/manager/orchestrator/reconcile.js';
import type { ReconcileFn } from '../../src/manager/orchestrator/interface.js';
import { Dispatcher } from '../../src/manager/dispatcher/dispatcher.js';
import { LeaseService } from '../../src/manager/lease/service.js';
import { DEFAULT_LEASE_OPTIONS } from '../../src/manager/lease/options.js';
import { OrchestratorLoop } from '../../src/manager/leader/orchestrator-loop.js';
import { SchedulerLoop } from '../../src/manager/leader/scheduler-loop.js';
import type { ManagerContext, ManagerStatusInfo } from '../../src/manager/interface.js';
import { Agent } from '../../src/worker/agent/agent.js';
import { SessionClient } from '../../src/worker/agent/session.js';
import { LeaseKeeper } from '../../src/worker/supervisor/lease-keeper.js';
import { silentLogger } from '../../src/util/log/interface.js';
import type { TimerHandle } from '../../src/util/timers.js';
import type { Node } from '../../src/model/index.js';
import { mkNode, mkService } from '../orchestrator/helpers.js';
import { seededRng, type Rng } from '../../src/util/rng.js';
import { EventQueue } from '../sim/event-queue.js';
import { LifeTimers, SimTimers } from '../sim/timers.js';
import { SimNetwork, SimTransport } from '../sim/transport.js';
import { MemoryStorage } from '../raft/sim/storage.js';
import { MemoryTaskStore, SimRuntime } from './sim-runtime.js';

export interface ClusterSimOptions {
  /** Simulated ms of faults and client traffic. */
  chaosMs?: number;
  /** Simulated ms allowed to converge after the faults stop. */
  healMs?: number;
  workers?: number;
  /** A deliberately broken orchestrator: it replaces the tasks of any node without an agent session at once, before the node's fence. */
  breakOrchestrator?: boolean;
  trace?: boolean;
}

export interface ClusterSimResult {
  seed: number;
  ok: boolean;
  failure?: string;
  events: number;
  /** Simulated ms the run lasted. */
  simMs: number;
  acked: number;
  faults: number;
  trace: string[];
}

const T0 = Date.UTC(2026, 0, 1);
const TICK_MS = 50; // Raft tick: heartbeatTicks 1, election after 10–20 ticks (0.5–1 s)
const RAFT = { heartbeatTicks: 1, electionTicksMin: 10, electionTicksMax: 20, preVote: true, checkQuorum: true };
const MANAGERS = ['m1', 'm2', 'm3'];
/** Microtask turns after each event: the product's promise chains run on before the next event (deterministically either way). */
const DRAIN_TURNS = 6;

class Violation extends Error {}

export async function runClusterSim(seed: number, o: ClusterSimOptions = {}): Promise<ClusterSimResult> {
  const sim = new ClusterSim(seed, o);
  try {
    await sim.run();
    return sim.result(true);
  } catch (err) {
    if (err instanceof Violation) return sim.result(false, err.message);
    return sim.result(false, `exception: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    sim.stop();
  }
}

/** One life of a manager process: what a crash ends. */
interface ManagerLife {
  timers: LifeTimers;
  transport: SimTransport;
  authority: LeaderAuthority;
  dispatcher: Dispatcher;
  lease: LeaseService;
  scheduler: SchedulerLoop;
  orchestrator: OrchestratorLoop;
  /** The leader loops run (this manager leads and applied an entry of its term). */
  leading: boolean;
  role: string;
  term: number;
}

interface ManagerSim {
  id: NodeId;
  storage: MemoryStorage;
  core: RaftCore | null;
  store: Store;
  /** Bumped on crash: an fsync or a delivery of the old life is void. */
  epoch: number;
  busy: boolean;
  /** The newest term of an entry this manager applied: its leader loops start once it applied one of its own term. */
  appliedTerm: number;
  life: ManagerLife | null;
  /** Proposals of this life awaiting their apply here. */
  proposals: Map<Uint8Array, { resolve: (r: TxnResult) => void; reject: (e: Error) => void; timer: TimerHandle }>;
  bootstrapping: boolean;
}

/** A worker's task supervisor: it holds the tasks and the lease, and outlives its node daemon. */
interface SupervisorLife {
  timers: LifeTimers;
  transport: SimTransport;
  runtime: SimRuntime;
  keeper: LeaseKeeper;
}

/** A worker's node daemon: the agent and its session. Killed and restarted, it re-adopts what its supervisor still runs. */
interface DaemonLife {
  timers: LifeTimers;
  transport: SimTransport;
  agent: Agent | null;
  session: SessionClient;
}

interface WorkerSim {
  id: string;
  up: boolean;
  /** The machine's disk: the agent's task store outlives its crashes. */
  disk: MemoryTaskStore;
  sup: SupervisorLife | null;
  daemon: DaemonLife | null;
}

class ClusterSim {
  private readonly rng: Rng;
  private readonly netRng: Rng;
  private readonly q = new EventQueue(T0);
  private readonly timers = new SimTimers(this.q, 0);
  private readonly net: SimNetwork;
  private get now(): number {
    return this.q.now;
  }
  private events = 0;
  /** A task started or stopped running, or a machine came back, since the slots were last checked. */
  private slotsChanged = false;
  private readonly managers = new Map<NodeId, ManagerSim>();
  private readonly workers = new Map<string, WorkerSim>();
  private readonly cut = new Set<string>();
  private lossP = 0;
  private readonly endChaos: number;
  private readonly endAll: number;
  private readonly trace: string[] = [];
  private idSeq = 0;
  private faults = 0;
  /** What clients were told succeeded: service name → replicas last acknowledged, and later unacknowledged attempts. */
  private readonly acked = new Map<string, { replicas: number; unknown: Set<number> }>();
  private ackedCount = 0;
  /** An exception thrown inside the product's code on an event (it would have reached a node's error handler). */
  private fault: Error | null = null;

  constructor(
    readonly seed: number,
    private readonly o: ClusterSimOptions,
  ) {
    this.rng = seededRng(seed);
    this.netRng = this.rng.fork();
    this.net = new SimNetwork(this.timers, {
      cut: (a, b) => this.linkCut(a, b),
      // 1–15 ms; a lost segment is retransmitted ~200 ms later.
      delay: () => 1 + this.netRng.int(15) + (this.lossP > 0 && this.netRng.chance(this.lossP) ? 200 : 0),
    });
    this.endChaos = T0 + (o.chaosMs ?? 8_000);
    this.endAll = this.endChaos + (o.healMs ?? 20_000);
    for (const id of MANAGERS) {
      const m: ManagerSim = { id, storage: new MemoryStorage({ voters: MANAGERS, learners: [] }), core: null, store: new Store(), epoch: 0, busy: false, appliedTerm: 0, life: null, proposals: new Map(), bootstrapping: false };
      this.managers.set(id, m);
      this.bootManager(m);
    }
    for (let i = 1; i <= (o.workers ?? 3); i++) {
      const w: WorkerSim = { id: `w${i}`, up: true, disk: new MemoryTaskStore(), sup: null, daemon: null };
      this.workers.set(w.id, w);
      this.bootWorker(w);
    }
    for (const m of this.managers.values()) this.every(TICK_MS, this.rng.int(TICK_MS), () => this.tick(m));
  }

  private log(s: string): void {
    if (this.o.trace) this.trace.push(`t=${this.now - T0} ${s}`);
  }

  private at(delay: number, fn: () => void): void {
    this.q.after(delay, fn);
  }

  private every(period: number, phase: number, fn: () => void): void {
    const loop = () => {
      fn();
      this.at(period, loop);
    };
    this.at(phase, loop);
  }

  // ------------------------------------------------------------- run

  async run(): Promise<void> {
    this.at(300, () => this.clientStep());
    this.at(500, () => this.nemesis());
    for (let e = this.q.next(this.endAll); e !== undefined; e = this.q.next(this.endAll)) {
      this.events++;
      e.fire();
      for (let i = 0; i < DRAIN_TURNS; i++) await null;
      if (this.fault) throw this.fault;
      // Two copies of a slot can only appear when a task starts running or a machine comes back:
      // check then (not after every event), which finds the same violations at the same moment.
      if (this.slotsChanged) {
        this.slotsChanged = false;
        this.checkSlots();
      }
      if (this.now > this.endChaos + 2_000 && this.events % 100 === 0 && this.converged()) break;
    }
    this.checkEnd();
  }

  /** Ends every process, so nothing of this run lingers in the test process. */
  stop(): void {
    for (const m of this.managers.values()) this.endManagerLife(m);
    for (const w of this.workers.values()) this.endWorkerLife(w);
  }

  result(ok: boolean, failure?: string): ClusterSimResult {
    return { seed: this.seed, ok, ...(failure ? { failure } : {}), events: this.events, simMs: this.now - T0, acked: this.ackedCount, faults: this.faults, trace: this.trace };
  }

  // ------------------------------------------------------------- network

  private linkCut(a: string, b: string): boolean {
    return this.cut.has(a) || this.cut.has(b);
  }

  /** Raft's messages (the driver's own sends): after a delay, unless lost or cut off (then or on arrival). */
  private sendRaft(from: string, to: string, fn: () => void): void {
    if (this.linkCut(from, to) || this.netRng.chance(this.lossP)) return;
    this.at(1 + this.netRng.int(15), () => {
      if (!this.linkCut(from, to)) fn();
    });
  }

  // ------------------------------------------------------------- managers

  private bootManager(m: ManagerSim): void {
    const boot = m.storage.boot();
    const core = new RaftCore({ id: m.id, rng: this.rng.fork(), options: RAFT, boot });
    m.core = core;
    // The store is rebuilt from the durable log (no snapshots here: compaction is Raft's own tests').
    m.store = new Store();
    m.busy = false;
    m.appliedTerm = 0;
    m.bootstrapping = false;
    const timers = new LifeTimers(this.timers);
    const transport = new SimTransport(this.net, m.id, timers);
    void transport.listen();
    const authority = new LeaderAuthority(core, TICK_MS);
    const ctx = this.contextOf(m, timers);
    // The manager's wiring (manager.ts): the lease asks the dispatcher about agents, the dispatcher asks the lease to admit them.
    let dispatcher: Dispatcher | null = null;
    const lease = new LeaseService({
      transport,
      nodeId: m.id,
      store: m.store,
      timers,
      raft: { status: () => this.raftStatus(m), authorityUntil: () => authority.until() },
      addressOf: (id) => id,
      agents: { absentSince: (id) => dispatcher!.absentSince(id), markDown: (id, why) => dispatcher!.markDown(id, why) },
    });
    dispatcher = new Dispatcher({
      transport,
      ctx,
      timers,
      managers: () => MANAGERS.map((id) => ({ nodeId: id, addr: id })),
      admit: (id) => lease.admit(id),
      fenceMs: lease.opts.fenceMs,
      sessionId: () => `s${++this.idSeq}`,
    });
    const rec: ReconcileFn = this.o.breakOrchestrator ? this.brokenReconcile(dispatcher) : reconcile;
    m.life = { timers, transport, authority, dispatcher, lease, scheduler: new SchedulerLoop(ctx, silentLogger, timers), orchestrator: new OrchestratorLoop(ctx, rec, silentLogger, timers), leading: false, role: 'follower', term: 0 };
    lease.start();
  }

  private raftStatus(m: ManagerSim): { role: string; term: number; leader: string | null; conf: { voters: string[]; learners: string[] } } {
    const core = m.core;
    if (!core) return { role: 'follower', term: 0, leader: null, conf: { voters: MANAGERS, learners: [] } };
    const soft = core.softState();
    return { role: soft.role, term: core.hardState().term, leader: soft.leader, conf: core.confState() };
  }

  /** What the dispatcher and the leader loops ask of the manager around them. */
  private contextOf(m: ManagerSim, timers: LifeTimers): ManagerContext {
    const self = this;
    const ctx: Partial<ManagerContext> = {
      get store() {
        return m.store;
      },
      readBarrier: async () => {
        if (!m.life?.leading) throw new Error('not the leader');
      },
      commit: (ops) => this.commit(m, timers, ops),
      newId: () => `t${++self.idSeq}`,
      now: () => new Date(timers.wall()).toISOString(),
      dataKey: () => null,
      status: (): ManagerStatusInfo => {
        const st = this.raftStatus(m);
        return {
          nodeId: m.id,
          addr: m.id,
          isLeader: st.role === 'leader',
          leaderId: st.leader,
          managers: MANAGERS.map((id) => ({ nodeId: id, addr: id, reachable: true, voter: true })),
          raft: { term: st.term, commit: m.store.index, applied: m.store.index },
        };
      },
    };
    return ctx as ManagerContext;
  }

  /** Proposes through this manager's Raft; resolves with the store's verdict once applied here (as the driver's propose does). */
  private commit(m: ManagerSim, timers: LifeTimers, ops: StoreOp[]): Promise<TxnResult> {
    return new Promise((resolve, reject) => {
      const core = m.core;
      if (!core || core.softState().role !== 'leader' || !timers.alive) return reject(new Error('NOT_LEADER: this manager does not lead'));
      const data = encodeTxn({ time: new Date(timers.wall()).toISOString(), ops });
      try {
        core.propose(data);
      } catch (err) {
        return reject(err as Error);
      }
      const timer = timers.setTimeout(() => {
        if (m.proposals.delete(data)) reject(new Error('TIMEOUT: the proposal was not applied in time; its outcome is unknown'));
      }, 10_000);
      m.proposals.set(data, { resolve, reject, timer });
      this.pump(m);
    });
  }

  private tick(m: ManagerSim): void {
    if (!m.core || !m.life) return;
    m.core.tick();
    m.life.authority.ticked(this.now);
    this.pump(m);
    this.syncRole(m);
  }

  private deliverRaft(to: ManagerSim, msg: Message): void {
    if (!to.core) return;
    to.core.step(msg);
    this.pump(to);
    this.syncRole(to);
  }

  /** The driver: persist a Ready (after a simulated fsync), then send, apply, advance. */
  private pump(m: ManagerSim): void {
    const core = m.core;
    if (!core || m.busy || !core.hasReady()) return;
    const rd = core.ready();
    m.busy = true;
    const epoch = m.epoch;
    this.at(this.rng.int(3), () => {
      if (m.epoch !== epoch || m.core !== core) return;
      this.complete(m, rd);
      m.busy = false;
      this.pump(m);
      this.syncRole(m);
    });
  }

  private complete(m: ManagerSim, rd: Ready): void {
    const core = m.core!;
    m.storage.persist(rd);
    for (const msg of rd.messages) {
      const to = this.managers.get(msg.to);
      if (to) this.sendRaft(m.id, to.id, () => this.deliverRaft(to, msg));
    }
    for (const e of rd.committed) {
      m.appliedTerm = e.term;
      if (e.type !== 'normal' || e.data.length === 0) {
        m.store.index = e.index;
        continue;
      }
      const r = m.store.apply({ index: e.index, term: e.term, command: e.data });
      const p = m.proposals.get(e.data);
      if (p) {
        m.proposals.delete(e.data);
        m.life?.timers.clear(p.timer);
        p.resolve(r);
      }
    }
    core.advance(rd);
  }

  /**
   * What the manager does on Raft role changes: the lease follows every
   * change at once; the dispatcher and the leader loops start once this
   * leader has applied an entry of its own term (so whatever earlier leaders
   * committed is in its store before it assigns or decides anything, as the
   * manager's read barrier ensures), and stop when it no longer leads.
   */
  private syncRole(m: ManagerSim): void {
    const life = m.life;
    const core = m.core;
    if (!life || !core) return;
    const role = core.softState().role;
    const term = core.hardState().term;
    if (role !== life.role || term !== life.term) {
      // A new term is a new leadership, even for the same manager.
      if (life.leading) this.stopLeading(m, life);
      life.role = role;
      life.term = term;
      life.lease.sync();
    }
    if (!life.leading && role === 'leader' && m.appliedTerm === term) {
      life.leading = true;
      this.log(`${m.id} leads in term ${term}`);
      life.dispatcher.startLeading();
      life.scheduler.start();
      life.orchestrator.start();
      this.bootstrap(m);
    }
  }

  private stopLeading(m: ManagerSim, life: ManagerLife): void {
    life.leading = false;
    life.dispatcher.stopLeading();
    life.scheduler.stop();
    life.orchestrator.stop();
    // The driver rejects what it cannot vouch for anymore: the outcome is unknown.
    for (const [data, p] of m.proposals) {
      m.proposals.delete(data);
      life.timers.clear(p.timer);
      p.reject(new Error('LEADER_CHANGED: the outcome is unknown'));
    }
  }

  /** The nodes join once (the first leader records them, as a join through the API would). */
  private bootstrap(m: ManagerSim): void {
    if (m.store.list('node').length > 0 || m.bootstrapping) return;
    m.bootstrapping = true;
    const ops: StoreOp[] = [...this.workers.keys()].map((id) => ({ op: 'create', kind: 'node', object: mkNode(id, { hostname: id, state: 'unknown' }) }));
    this.commit(m, m.life!.timers, ops).then(
      () => (m.bootstrapping = false),
      () => (m.bootstrapping = false),
    );
  }

  private endManagerLife(m: ManagerSim): void {
    const life = m.life;
    if (!life) return;
    m.life = null;
    life.timers.kill();
    life.lease.stop();
    if (life.leading) this.stopLeading(m, life);
    m.proposals.clear();
  }

  /**
   * The deliberately broken orchestrator: it takes a node without an agent
   * session for dead and replaces its tasks at once, before the node's fence
   * has killed them, so a partitioned worker's slot runs twice.
   */
  private brokenReconcile(d: Dispatcher): ReconcileFn {
    return (view, now, ids, opts) => {
      const nodes = view.nodes.map((n): Node => (d.absentSince(n.ID) !== undefined && n.Status.State !== 'down' ? { ...n, Status: { ...n.Status, State: 'down' } } : n));
      return reconcile({ ...view, nodes }, now, ids, opts);
    };
  }

  // ------------------------------------------------------------- workers

  private bootWorker(w: WorkerSim): void {
    this.bootSupervisor(w);
    this.bootDaemon(w);
  }

  private bootSupervisor(w: WorkerSim): void {
    const timers = new LifeTimers(this.timers);
    const transport = new SimTransport(this.net, w.id, timers);
    const keeper = new LeaseKeeper({ transport, nodeId: w.id, managers: MANAGERS, renewEveryMs: DEFAULT_LEASE_OPTIONS.renewEveryMs, timers, rng: this.rng.fork(), onGrant: () => armFence() });
    const runtime = new SimRuntime(timers, this.rng.fork(), () => keeper.lease.valid(timers.now()), () => (this.slotsChanged = true));
    w.sup = { timers, transport, runtime, keeper };
    // The supervisor's fence: one timer at the lease's deadline, moved by every grant (lease-thread.ts).
    let fenceTimer: TimerHandle | null = null;
    const armFence = (): void => {
      timers.clear(fenceTimer);
      const left = keeper.lease.until - timers.now();
      fenceTimer = timers.setTimeout(
        () => {
          if (!keeper.lease.valid(timers.now())) {
            const n = runtime.fence();
            if (n > 0) this.log(`${w.id} fenced ${n} task(s)`);
          }
          armFence();
        },
        left > 0 ? Math.ceil(left) : 25,
      );
    };
  }

  /** The node daemon: the agent re-adopts what the supervisor runs (live restore), then the session opens. */
  private bootDaemon(w: WorkerSim): void {
    const sup = w.sup!;
    const timers = new LifeTimers(this.timers);
    const transport = new SimTransport(this.net, w.id, timers);
    const session = new SessionClient({
      transport,
      nodeId: w.id,
      managers: MANAGERS,
      timers,
      rng: this.rng.fork(),
      description: { hostname: w.id, os: 'linux', arch: 'x86_64', nanoCpus: 4e9, memoryBytes: 8 * 2 ** 30, labels: {}, runtimes: ['process'], engineVersion: 'sim', clusterAddr: `${w.id}:4242`, gossipAddr: `${w.id}:7946` },
      onAssignments: (full, tasks, removed) => {
        if (this.o.trace) this.log(`${w.id} assigned${full ? ' (full)' : ''}: ${tasks.map((t) => `${t.ID}:${t.DesiredState}`).join(' ')}${removed.length ? ` removed ${removed.join(' ')}` : ''}`);
        life.agent?.onAssignments(full, tasks, removed);
      },
      onConnected: (addr) => this.log(`${w.id} session with ${addr}`),
    });
    const life: DaemonLife = { timers, transport, agent: null, session };
    w.daemon = life;
    void Agent.start({
      nodeId: w.id,
      dataDir: `/nonexistent/${w.id}`,
      runtimes: new Map([['process', sup.runtime]]),
      defaultRuntime: 'process',
      report: (updates) => {
        if (this.o.trace) this.log(`${w.id} reports ${updates.map((u) => `${u.taskId}:${u.status.State}`).join(' ')}`);
        session.report(updates);
      },
      timers,
      taskStore: w.disk,
    }).then(
      (agent) => {
        if (!timers.alive) return void agent.stop();
        life.agent = agent;
        session.start();
      },
      (err: Error) => (this.fault ??= err),
    );
  }

  /** The node daemon dies (kill -9): its session's connections close; the supervisor and the tasks go on. */
  private endDaemon(w: WorkerSim): void {
    const d = w.daemon;
    if (!d) return;
    w.daemon = null;
    d.timers.kill();
    d.session.stop();
    // What the dead process had in flight stops with it: its agent neither reports nor drives the runtime anymore.
    void d.agent?.stop();
    this.net.crashProcess(d.transport);
  }

  private endWorkerLife(w: WorkerSim): void {
    this.endDaemon(w);
    const s = w.sup;
    if (!s) return;
    w.sup = null;
    s.timers.kill();
    s.keeper.stop();
  }

  // ------------------------------------------------------------- clients

  private clientStep(): void {
    if (this.now < this.endChaos) this.at(300 + this.rng.int(700), () => this.clientStep());
    const m = this.leader();
    if (!m) return;
    const names = [...this.acked.keys()];
    const commit = (ops: StoreOp[], done: () => void) =>
      this.commit(m, m.life!.timers, ops).then(
        (r) => r.ok && done(),
        () => {},
      );
    if (names.length < 3 && (names.length === 0 || this.rng.chance(0.3))) {
      const name = `svc${this.acked.size + 1}`;
      const replicas = this.rng.range(1, 4);
      const rec = { replicas: -1, unknown: new Set([replicas]) };
      this.acked.set(name, rec);
      void commit([{ op: 'create', kind: 'service', object: mkService(`s-${name}`, { name, replicas, restart: { Condition: 'any', Delay: 0 } }) }], () => {
        rec.replicas = replicas;
        rec.unknown.delete(replicas);
        this.ackedCount++;
        this.log(`client: create ${name} x${replicas} acknowledged`);
      });
      return;
    }
    const name = this.rng.pick(names);
    const s = m.store.list('service').find((x) => x.Spec.Name === name);
    if (!s) return;
    const replicas = this.rng.range(0, 5);
    const rec = this.acked.get(name)!;
    rec.unknown.add(replicas);
    void commit([{ op: 'update', kind: 'service', object: { ...s, Spec: { ...s.Spec, Mode: { Replicated: { Replicas: replicas } } } }, expect: s.Version.Index }], () => {
      // Acknowledged: later writes may still change it, but this one is durable.
      rec.replicas = replicas;
      this.ackedCount++;
      this.log(`client: scale ${name} to ${replicas} acknowledged`);
    });
  }

  private leader(): ManagerSim | null {
    for (const m of this.managers.values()) if (m.life?.leading) return m;
    return null;
  }

  // ------------------------------------------------------------- nemesis

  private nemesis(): void {
    if (this.now >= this.endChaos) return this.healAll();
    this.at(400 + this.rng.int(1_200), () => this.nemesis());
    this.faults++;
    const r = this.rng.int(6);
    if (r === 0) {
      const who = this.rng.pick([...MANAGERS, ...this.workers.keys()]);
      this.cut.add(who);
      this.log(`nemesis: isolate ${who}`);
      this.at(500 + this.rng.int(3_000), () => this.cut.delete(who));
    } else if (r === 1) {
      const m = this.managers.get(this.rng.pick(MANAGERS))!;
      if (!m.core) return;
      this.log(`nemesis: crash ${m.id}`);
      this.endManagerLife(m);
      this.net.crash(m.id, false);
      m.core = null;
      m.epoch++;
      m.busy = false;
      this.at(200 + this.rng.int(2_000), () => {
        // Unless the heal at the end of the chaos restarted it already: a second boot would be a second process.
        if (m.core) return;
        this.bootManager(m);
        this.log(`nemesis: restart ${m.id}`);
      });
    } else if (r === 2) {
      const w = this.workers.get(this.rng.pick([...this.workers.keys()]))!;
      if (!w.up) return;
      // The machine dies: its tasks with it.
      this.log(`nemesis: crash ${w.id}`);
      w.up = false;
      this.endWorkerLife(w);
      this.net.crash(w.id, true);
      this.at(500 + this.rng.int(4_000), () => this.restartWorker(w));
    } else if (r === 3) {
      this.lossP = this.rng.pick([0, 0.05, 0.2]);
      this.log(`nemesis: loss ${this.lossP}`);
    } else if (r === 4) {
      // kill -9 of a worker's node daemon, restarted a moment later: its tasks keep running (live restore).
      const w = this.workers.get(this.rng.pick([...this.workers.keys()]))!;
      if (!w.up || !w.daemon) return;
      this.log(`nemesis: kill the node daemon of ${w.id}`);
      this.endDaemon(w);
      this.at(200 + this.rng.int(3_000), () => {
        if (!w.up || w.daemon) return;
        this.bootDaemon(w);
        this.log(`nemesis: restart the node daemon of ${w.id}`);
      });
    } else {
      // quiet
    }
  }

  private restartWorker(w: WorkerSim): void {
    if (w.up) return;
    w.up = true;
    this.slotsChanged = true;
    this.net.machineUp(w.id);
    this.bootWorker(w);
    this.log(`nemesis: restart ${w.id}`);
  }

  private healAll(): void {
    this.cut.clear();
    this.lossP = 0;
    for (const m of this.managers.values()) if (!m.core) this.bootManager(m);
    for (const w of this.workers.values()) {
      this.restartWorker(w);
      if (w.up && !w.daemon) this.bootDaemon(w);
    }
    this.log('nemesis: healed everything');
  }

  // ------------------------------------------------------------- checks

  /** The service and slot of each task running on an up machine. */
  private running(): { key: string; serviceId: string; id: string; worker: string }[] {
    const out: { key: string; serviceId: string; id: string; worker: string }[] = [];
    for (const w of this.workers.values()) {
      if (!w.up || !w.sup) continue;
      for (const r of w.sup.runtime.running()) out.push({ key: `${r.serviceId}/${r.slot}`, serviceId: r.serviceId, id: r.taskId, worker: w.id });
    }
    return out;
  }

  /** Never two copies of one slot running at once (the fence runs before the leader replaces). */
  private checkSlots(): void {
    const seen = new Map<string, string>();
    for (const r of this.running()) {
      const other = seen.get(r.key);
      if (other) throw new Violation(`slot ${r.key} runs twice at t=${this.now - T0}: ${other} and ${r.id}@${r.worker}${this.describe([other.split('@')[0]!, r.id])}`);
      seen.set(r.key, `${r.id}@${r.worker}`);
    }
  }

  /** The leader's view of some tasks and their nodes, for a failure message. */
  private describe(ids: string[]): string {
    const m = this.leader() ?? [...this.managers.values()].find((x) => x.core);
    if (!m) return '';
    const parts = ids.map((id) => {
      const t = m.store.get('task', id);
      if (!t) return `${id}: not in ${m.id}'s store`;
      const n = m.store.get('node', t.NodeID);
      return `${id}: desired ${t.DesiredState}, observed ${t.Status.State}, node ${t.NodeID} ${n?.Status.State}`;
    });
    return ` (${m.id} sees ${parts.join('; ')})`;
  }

  private runningOf(serviceId: string): number {
    let n = 0;
    for (const r of this.running()) if (r.serviceId === serviceId) n++;
    return n;
  }

  private converged(): boolean {
    const m = this.leader();
    if (!m) return false;
    for (const s of m.store.list('service')) if (this.runningOf(s.ID) !== (s.Spec.Mode?.Replicated?.Replicas ?? 0)) return false;
    return true;
  }

  private checkEnd(): void {
    const m = this.leader();
    if (!m) throw new Violation(`no leader ${this.endAll - this.endChaos} ms after the faults stopped`);
    // Every acknowledged write survives, on every manager.
    for (const mgr of this.managers.values()) {
      const services = mgr.store.list('service');
      for (const [name, rec] of this.acked) {
        if (rec.replicas < 0) continue;
        const s = services.find((x) => x.Spec.Name === name);
        if (!s) throw new Violation(`${mgr.id} lost the acknowledged service ${name}`);
        const r = s.Spec.Mode?.Replicated?.Replicas;
        if (r !== rec.replicas && !rec.unknown.has(r ?? -1)) throw new Violation(`${mgr.id} has ${name} at ${r} replicas; acknowledged ${rec.replicas} (unacknowledged attempts: ${[...rec.unknown].join(',')})`);
      }
    }
    if (!this.converged()) {
      const detail = m.store.list('service').map((s) => {
        const running = this.runningOf(s.ID);
        const want = s.Spec.Mode?.Replicated?.Replicas ?? 0;
        if (running === want) return `${s.Spec.Name}: ${running}/${want}`;
        const tasks = m.store.list('task').filter((t) => t.ServiceID === s.ID).map((t) => `${t.ID}#${t.Slot} ${t.DesiredState}/${t.Status.State}@${t.NodeID || '-'} ${t.Status.Message ?? ''}`);
        return `${s.Spec.Name}: ${running}/${want} [${tasks.join('; ')}]`;
      });
      const nodes = m.store.list('node').map((n) => `${n.ID}:${n.Status.State}`);
      throw new Violation(`not converged ${this.endAll - this.endChaos} ms after the faults stopped: ${detail.join(', ')} (nodes ${nodes.join(' ')})`);
    }
  }
}
