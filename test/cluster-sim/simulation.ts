/**
 * The whole-cluster deterministic simulation: in one process, from one seed,
 *
 * - three managers, each the real Raft core (src/raft/core.ts) over an
 *   in-memory log, applying committed entries to the real store
 *   (src/manager/store/store.ts);
 * - on whichever manager leads: the real orchestrator decisions
 *   (reconcile + actionToOp) and the real scheduler, proposed through Raft,
 *   and the dispatcher's and the fencing lease's rules — agents heartbeat,
 *   the leader renews their lease and sends their assignments, and declares
 *   a node down only after its lease ran out (downAfterMs > fenceMs);
 * - N workers whose agents run tasks on a simulated runtime and fence (kill
 *   every task) when their lease is not renewed for fenceMs;
 * - clients creating and scaling services, acknowledged only once applied;
 * - faults: message loss and delay, partitions, manager crashes (losing
 *   what was not persisted) and restarts, worker crashes and restarts.
 *
 * Checked at every event: no slot of a replicated service runs twice at the
 * same time on the workers. At the end, after the faults stop: every
 * acknowledged write survives in every manager's store, and desired equals
 * running. Time, randomness and the network are the simulation's; one seed
 * is one exact run.
 */
import { RaftCore } from '../../src/raft/core.js';
import type { Message, NodeId, Ready } from '../../src/raft/interface.js';
import { Store } from '../../src/manager/store/store.js';
import { encodeTxn, type StoreOp } from '../../src/manager/store/commands.js';
import { reconcile } from '../../src/manager/orchestrator/reconcile.js';
import { actionToOp } from '../../src/manager/leader/orchestrator-loop.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { isTerminal, type Node, type Task, type TaskState } from '../../src/model/index.js';
import { mkNode, mkService } from '../orchestrator/helpers.js';
import { seededRng, type Rng } from '../../src/util/rng.js';
import { EventQueue } from '../sim/event-queue.js';
import { MemoryStorage } from '../raft/sim/storage.js';

export interface ClusterSimOptions {
  /** Simulated ms of faults and client traffic. */
  chaosMs?: number;
  /** Simulated ms allowed to converge after the faults stop. */
  healMs?: number;
  workers?: number;
  /** A deliberately broken orchestrator: it sometimes creates a second task for a slot. */
  breakOrchestrator?: boolean;
  trace?: boolean;
}

export interface ClusterSimResult {
  seed: number;
  ok: boolean;
  failure?: string;
  events: number;
  acked: number;
  faults: number;
  trace: string[];
}

const T0 = Date.UTC(2026, 0, 1);
const TICK_MS = 50; // Raft tick: heartbeatTicks 1, election after 10–20 ticks (0.5–1 s)
const HEARTBEAT_MS = 200; // agents heartbeat the leader this often
const FENCE_MS = 1_200; // a worker kills its tasks when its lease is this old
const DOWN_AFTER_MS = 2_500; // the leader declares a silent worker down (> FENCE_MS + network delay)
const LEADER_STEP_MS = 100; // the leader's orchestrator and scheduler loops
const MANAGERS = ['m1', 'm2', 'm3'];


class Violation extends Error {}

export function runClusterSim(seed: number, o: ClusterSimOptions = {}): ClusterSimResult {
  const sim = new ClusterSim(seed, o);
  try {
    sim.run();
    return sim.result(true);
  } catch (err) {
    if (err instanceof Violation) return sim.result(false, err.message);
    return sim.result(false, `exception: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}

interface ManagerSim {
  id: NodeId;
  storage: MemoryStorage;
  core: RaftCore | null;
  store: Store;
  /** Bumped on crash: an fsync or a delivery of the old life is void. */
  epoch: number;
  busy: boolean;
  /** Leader bookkeeping, reset when leadership (re)starts. */
  leaderSince: number;
  lastHeard: Map<string, number>;
  inFlight: boolean;
  /** The term this manager's leader loops started in (0: not leading): a new term is a new leadership. */
  leadingTerm: number;
  /** The newest term of an entry this manager applied: a leader acts only once it applied one of its own term. */
  appliedTerm: number;
  /** Nodes this leader has proposed down and not yet seen down. */
  downing: Set<string>;
}

interface RunningTask {
  serviceId: string;
  slot: number;
  state: TaskState;
}

interface WorkerSim {
  id: string;
  up: boolean;
  /** Last lease renewal heard from a leader (worker's clock = sim clock). */
  leaseAt: number;
  tasks: Map<string, RunningTask>;
  /** Status changes not yet reported. */
  outbox: Map<string, TaskState>;
  epoch: number;
  /** Tasks this machine ever started: its task db is on disk and survives a crash (a task starts once). */
  started: Set<string>;
}

class ClusterSim {
  private readonly rng: Rng;
  private readonly net: Rng;
  private readonly q = new EventQueue(T0);
  private get now(): number {
    return this.q.now;
  }
  private events = 0;
  /** A task started running or a worker came back since the slots were last checked. */
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
  /** Proposals awaiting their apply, by the proposed bytes (entries keep the very object through the simulated network and log). */
  private readonly waiting = new WeakMap<Uint8Array, () => void>();
  /** What clients were told succeeded: service name → replicas last acknowledged, and later unacknowledged attempts. */
  private readonly acked = new Map<string, { replicas: number; unknown: Set<number> }>();
  private ackedCount = 0;

  constructor(
    readonly seed: number,
    private readonly o: ClusterSimOptions,
  ) {
    this.rng = seededRng(seed);
    this.net = this.rng.fork();
    this.endChaos = T0 + (o.chaosMs ?? 8_000);
    this.endAll = this.endChaos + (o.healMs ?? 20_000);
    for (const id of MANAGERS) {
      const m: ManagerSim = { id, storage: new MemoryStorage({ voters: MANAGERS, learners: [] }), core: null, store: new Store(), epoch: 0, busy: false, leaderSince: 0, lastHeard: new Map(), inFlight: false, leadingTerm: 0, appliedTerm: 0, downing: new Set() };
      this.managers.set(id, m);
      this.bootManager(m);
    }
    for (let i = 1; i <= (o.workers ?? 3); i++) {
      const w: WorkerSim = { id: `w${i}`, up: true, leaseAt: T0, tasks: new Map(), outbox: new Map(), epoch: 0, started: new Set() };
      this.workers.set(w.id, w);
      this.every(HEARTBEAT_MS, this.rng.int(HEARTBEAT_MS), () => this.agentBeat(w));
    }
    for (const m of this.managers.values()) this.every(TICK_MS, this.rng.int(TICK_MS), () => this.tick(m));
    this.every(LEADER_STEP_MS, 0, () => this.leaderStep());
    this.every(50, 25, () => this.fenceCheck());
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

  run(): void {
    this.at(300, () => this.clientStep());
    this.at(500, () => this.nemesis());
    for (let e = this.q.next(this.endAll); e !== undefined; e = this.q.next(this.endAll)) {
      this.events++;
      e.fire();
      // Two copies of a slot can only appear when a task starts running or a worker comes back:
      // check then (not after every event), which finds the same violations at the same moment.
      if (this.slotsChanged) {
        this.slotsChanged = false;
        this.checkSlots();
      }
      if (this.now > this.endChaos + 2_000 && this.events % 200 === 0 && this.converged()) break;
    }
    this.checkEnd();
  }

  result(ok: boolean, failure?: string): ClusterSimResult {
    return { seed: this.seed, ok, ...(failure ? { failure } : {}), events: this.events, acked: this.ackedCount, faults: this.faults, trace: this.trace };
  }

  // ------------------------------------------------------------- network

  private linkCut(a: string, b: string): boolean {
    return this.cut.has(a) || this.cut.has(b);
  }

  /** Delivers fn after a network delay, unless the message is lost or a partition stands between a and b (then or on arrival). */
  private send(from: string, to: string, fn: () => void): void {
    if (this.linkCut(from, to) || this.net.chance(this.lossP)) return;
    this.at(1 + this.net.int(15), () => {
      if (!this.linkCut(from, to)) fn();
    });
  }

  // ------------------------------------------------------------- managers

  private bootManager(m: ManagerSim): void {
    const boot = m.storage.boot();
    m.core = new RaftCore({ id: m.id, rng: this.rng.fork(), options: { heartbeatTicks: 1, electionTicksMin: 10, electionTicksMax: 20, preVote: true, checkQuorum: true }, boot });
    // The store is rebuilt from the durable log (no snapshots here: compaction is Raft's own tests').
    m.store = new Store();
    m.busy = false;
    m.inFlight = false;
    m.leadingTerm = 0;
    m.appliedTerm = 0;
  }

  private tick(m: ManagerSim): void {
    if (!m.core) return;
    m.core.tick();
    this.pump(m);
  }

  private deliverRaft(to: ManagerSim, msg: Message): void {
    if (!to.core) return;
    to.core.step(msg);
    this.pump(to);
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
    });
  }

  private complete(m: ManagerSim, rd: Ready): void {
    const core = m.core!;
    m.storage.persist(rd);
    for (const msg of rd.messages) {
      const to = this.managers.get(msg.to);
      if (to) this.send(m.id, to.id, () => this.deliverRaft(to, msg));
    }
    for (const e of rd.committed) {
      m.appliedTerm = e.term;
      if (e.type !== 'normal' || e.data.length === 0) {
        m.store.index = e.index;
        continue;
      }
      m.store.apply({ index: e.index, term: e.term, command: e.data });
      const cb = this.waiting.get(e.data);
      if (cb) {
        this.waiting.delete(e.data);
        cb();
      }
    }
    core.advance(rd);
    this.noteLeadership(m);
  }

  /**
   * Starts the leader loops' bookkeeping when m begins to lead in a new term —
   * once it has applied an entry of that term, so whatever earlier leaders
   * committed (a node declared down, say) is in its store before it grants a
   * lease or assigns a task. The product's lease has the same rule: a leader
   * grants only with Raft authority in its term (a quorum acked its appends).
   */
  private noteLeadership(m: ManagerSim): void {
    const term = m.core?.hardState().term ?? 0;
    if (!m.core || m.core.softState().role !== 'leader' || m.appliedTerm !== term) {
      m.leadingTerm = 0;
      return;
    }
    if (m.leadingTerm !== term) {
      m.leadingTerm = term;
      // A new leader hears every agent afresh: none is declared down before DOWN_AFTER_MS of its own silence.
      m.leaderSince = this.now;
      m.lastHeard = new Map();
      m.downing = new Set();
      m.inFlight = false;
      this.log(`${m.id} leads in term ${term}`);
    }
  }

  /** Leads, and its leader loops know it (their bookkeeping started in this term). */
  private isLeader(m: ManagerSim): boolean {
    this.noteLeadership(m);
    return m.leadingTerm !== 0;
  }

  private leader(): ManagerSim | null {
    for (const m of this.managers.values()) if (this.isLeader(m)) return m;
    return null;
  }

  /** Proposes ops on m (if it leads); `done` runs once they are applied anywhere, i.e. committed. */
  private propose(m: ManagerSim, ops: StoreOp[], done?: () => void): boolean {
    if (!m.core || !this.isLeader(m)) return false;
    const data = encodeTxn({ time: new Date(this.now).toISOString(), ops });
    try {
      m.core.propose(data);
    } catch {
      return false;
    }
    if (done) this.waiting.set(data, done);
    this.pump(m);
    return true;
  }

  // ------------------------------------------------------------- leader loops

  private leaderStep(): void {
    const m = this.leader();
    if (!m) return;
    const s = m.store;
    if (s.list('node').length === 0) {
      if (!m.inFlight) {
        m.inFlight = true;
        const ops: StoreOp[] = [...this.workers.keys()].map((id) => ({ op: 'create', kind: 'node', object: mkNode(id, { hostname: id }) }));
        if (!this.propose(m, ops, () => (m.inFlight = false))) m.inFlight = false;
      }
      return;
    }
    // The fencing lease's rule: a worker silent for DOWN_AFTER_MS (its lease long expired) is down.
    for (const n of s.list('node')) {
      const heard = m.lastHeard.get(n.ID) ?? m.leaderSince;
      if (n.Status.State === 'down') m.downing.delete(n.ID);
      else if (this.now - heard > DOWN_AFTER_MS && !m.downing.has(n.ID)) {
        this.log(`${m.id} declares ${n.ID} down`);
        m.downing.add(n.ID);
        const ok = this.propose(m, [{ op: 'update', kind: 'node', object: { ...n, Status: { ...n.Status, State: 'down', Message: 'lease expired' } } }]);
        if (!ok) m.downing.delete(n.ID);
        else this.at(2_000, () => m.downing.delete(n.ID));
      }
    }
    if (m.inFlight) return;
    const ops: StoreOp[] = [];
    const view = { services: s.list('service'), tasks: s.list('task'), nodes: s.list('node') };
    const d = reconcile(this.o.breakOrchestrator ? this.brokenView(m, view) : view, this.now, () => `t${++this.idSeq}`);
    for (const a of d.actions) ops.push(actionToOp(a, (id) => s.get('task', id)));
    if (ops.length === 0) {
      // The scheduler: place what waits for a node.
      const pending = view.tasks.filter((t) => (t.Status.State === 'new' || t.Status.State === 'pending') && !isTerminal(t.DesiredState));
      if (pending.length > 0) {
        const sched = new Scheduler();
        for (const n of view.nodes) sched.upsertNode(n);
        for (const t of view.tasks) if (t.NodeID && !isTerminal(t.Status.State) && t.Status.State !== 'new' && t.Status.State !== 'pending') sched.taskAssigned(t);
        const { placed } = sched.schedule(pending);
        const byId = new Map(pending.map((t) => [t.ID, t]));
        for (const p of placed) {
          ops.push({ op: 'patchTask', id: p.taskId, nodeId: p.nodeId, status: { ...byId.get(p.taskId)!.Status, Timestamp: new Date(this.now).toISOString(), State: 'assigned', Message: 'scheduler assigned task to node' } });
        }
      }
    }
    if (ops.length === 0) return;
    m.inFlight = true;
    const epoch = m.epoch;
    if (!this.propose(m, ops, () => (m.inFlight = false))) m.inFlight = false;
    // A batch lost with a leader change must not block the next leader's loop forever.
    this.at(2_000, () => {
      if (m.epoch === epoch) m.inFlight = false;
    });
  }

  /**
   * The deliberately broken orchestrator: it takes a node that missed two
   * heartbeats for dead and replaces its tasks at once — before the node's
   * fence has killed them, so a partitioned worker's slot runs twice.
   */
  private brokenView<V extends { nodes: Node[] }>(m: ManagerSim, view: V): V {
    const nodes = view.nodes.map((n) => (this.now - (m.lastHeard.get(n.ID) ?? m.leaderSince) > 2 * HEARTBEAT_MS + 50 ? { ...n, Status: { ...n.Status, State: 'down' as const } } : n));
    return { ...view, nodes };
  }


  // ------------------------------------------------------------- agents

  /** A heartbeat with the status changes since the last one; the leader answers with the lease and the assignments. */
  private agentBeat(w: WorkerSim): void {
    if (!w.up) return;
    // Every heartbeat carries the state of every task this agent knows, until the store agrees
    // (a report the leader proposed may be lost with that leader): the leader patches only what differs.
    const report: [string, TaskState][] = [...w.outbox];
    for (const [id, rt] of w.tasks) if (!w.outbox.has(id)) report.push([id, rt.state]);
    for (const mid of MANAGERS) {
      this.send(w.id, mid, () => {
        const m = this.managers.get(mid)!;
        if (!this.isLeader(m)) return;
        m.lastHeard.set(w.id, this.now);
        const node = m.store.get('node', w.id);
        const ops: StoreOp[] = [];
        if (node && node.Status.State === 'down') ops.push({ op: 'update', kind: 'node', object: { ...node, Status: { ...node.Status, State: 'ready', Message: '' } } });
        for (const [taskId, state] of report) {
          const t = m.store.get('task', taskId);
          if (t && t.NodeID === w.id && t.Status.State !== state && !isTerminal(t.Status.State)) ops.push({ op: 'patchTask', id: taskId, status: { ...t.Status, State: state, Timestamp: new Date(this.now).toISOString(), Message: state } });
        }
        if (ops.length > 0) this.propose(m, ops);
        // A node the store has down registers again first, as the real dispatcher's session does: no lease
        // renewal and no assignments until its return is committed — by then the orchestrator has either
        // replaced its tasks (and they are no longer assigned to it) or not.
        // Likewise while this leader is declaring it down: its lease is revoked, not renewed (manager/lease).
        if (!node || node.Status.State === 'down' || m.downing.has(w.id)) return;
        // The lease renewal and the assignments travel back together.
        // Every task of the node whose end the store has not recorded, whatever its desired state (the agent confirms stops).
        const assigned = m.store.list('task').filter((t) => t.NodeID === w.id && !isTerminal(t.Status.State) && t.Status.State !== 'new' && t.Status.State !== 'pending');
        const epoch = w.epoch;
        this.send(mid, w.id, () => {
          if (w.epoch !== epoch || !w.up) return;
          this.onAssignments(w, report, assigned);
        });
      });
    }
  }

  private onAssignments(w: WorkerSim, reported: [string, TaskState][], assigned: Task[]): void {
    w.leaseAt = this.now;
    for (const [id, state] of reported) if (w.outbox.get(id) === state) w.outbox.delete(id);
    const want = new Map(assigned.map((t) => [t.ID, t]));
    // Stop what is no longer assigned at all (deleted).
    for (const [id, rt] of w.tasks) {
      if (!want.has(id) && (rt.state === 'running' || rt.state === 'starting')) {
        rt.state = 'shutdown';
        w.outbox.set(id, 'shutdown');
      }
    }
    for (const t of want.values()) {
      const rt = w.tasks.get(t.ID);
      if (isTerminal(t.DesiredState)) {
        // Stop it, or confirm it is not running here.
        if (rt && (rt.state === 'running' || rt.state === 'starting')) rt.state = 'shutdown';
        if (!rt || rt.state === 'shutdown') w.outbox.set(t.ID, 'shutdown');
        continue;
      }
      // A task held at 'ready' (its predecessor in the slot is still stopping) is prepared, not started.
      if (rt || t.DesiredState !== 'running') continue;
      if (w.started.has(t.ID)) {
        // It ran here before the machine restarted: it is over, never run again.
        w.outbox.set(t.ID, 'failed');
        continue;
      }
      w.started.add(t.ID);
      // Start it: running after a simulated start time.
      w.tasks.set(t.ID, { serviceId: t.ServiceID, slot: t.Slot ?? 0, state: 'starting' });
      const epoch = w.epoch;
      this.at(20 + this.rng.int(200), () => {
        const cur = w.tasks.get(t.ID);
        if (w.epoch !== epoch || !cur || cur.state !== 'starting') return;
        cur.state = 'running';
        this.slotsChanged = true;
        w.outbox.set(t.ID, 'running');
        this.log(`${w.id} runs ${t.ID} (${t.ServiceID}.${t.Slot})`);
      });
    }
  }

  /** The fence: a worker whose lease is too old kills its tasks, whatever the leader thinks. */
  private fenceCheck(): void {
    for (const w of this.workers.values()) {
      if (!w.up || this.now - w.leaseAt <= FENCE_MS) continue;
      for (const [id, rt] of w.tasks) {
        if (rt.state === 'running' || rt.state === 'starting') {
          rt.state = 'failed';
          w.outbox.set(id, 'failed');
          this.log(`${w.id} fenced ${id}`);
        }
      }
    }
  }

  // ------------------------------------------------------------- clients

  private clientStep(): void {
    if (this.now < this.endChaos) this.at(300 + this.rng.int(700), () => this.clientStep());
    const m = this.leader();
    if (!m) return;
    const names = [...this.acked.keys()];
    if (names.length < 3 && (names.length === 0 || this.rng.chance(0.3))) {
      const name = `svc${this.acked.size + 1}`;
      const replicas = this.rng.range(1, 4);
      const rec = { replicas: -1, unknown: new Set([replicas]) };
      this.acked.set(name, rec);
      this.propose(m, [{ op: 'create', kind: 'service', object: mkService(`s-${name}`, { name, replicas, restart: { Condition: 'any', Delay: 0 } }) }], () => {
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
    this.propose(m, [{ op: 'update', kind: 'service', object: { ...s, Spec: { ...s.Spec, Mode: { Replicated: { Replicas: replicas } } } }, expect: s.Version.Index }], () => {
      // Acknowledged: later writes may still change it, but this one is durable.
      rec.replicas = replicas;
      this.ackedCount++;
      this.log(`client: scale ${name} to ${replicas} acknowledged`);
    });
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
      m.core = null;
      m.epoch++;
      m.busy = false;
      this.at(200 + this.rng.int(2_000), () => {
        this.bootManager(m);
        this.log(`nemesis: restart ${m.id}`);
      });
    } else if (r === 2) {
      const w = this.workers.get(this.rng.pick([...this.workers.keys()]))!;
      if (!w.up) return;
      // The machine dies: its tasks with it.
      this.log(`nemesis: crash ${w.id}`);
      w.up = false;
      w.epoch++;
      w.tasks.clear();
      w.outbox.clear();
      this.at(500 + this.rng.int(4_000), () => {
        w.up = true;
        this.slotsChanged = true;
        w.leaseAt = this.now - FENCE_MS - 1; // no lease until a leader renews it
        this.log(`nemesis: restart ${w.id}`);
      });
    } else if (r === 3) {
      this.lossP = this.rng.pick([0, 0.05, 0.2]);
      this.log(`nemesis: loss ${this.lossP}`);
    } else {
      // quiet
    }
  }

  private healAll(): void {
    this.cut.clear();
    this.lossP = 0;
    for (const m of this.managers.values()) if (!m.core) this.bootManager(m);
    for (const w of this.workers.values()) {
      if (!w.up) {
        w.up = true;
        this.slotsChanged = true;
        w.leaseAt = this.now - FENCE_MS - 1;
      }
    }
    this.log('nemesis: healed everything');
  }

  // ------------------------------------------------------------- checks

  /** Never two copies of one slot running at once (the fence runs before the leader replaces). */
  private checkSlots(): void {
    const seen = new Map<string, string>();
    for (const w of this.workers.values()) {
      if (!w.up) continue;
      for (const [id, rt] of w.tasks) {
        if (rt.state !== 'running') continue;
        const key = `${rt.serviceId}/${rt.slot}`;
        const other = seen.get(key);
        if (other) throw new Violation(`slot ${key} runs twice at t=${this.now - T0}: ${other} and ${id}@${w.id}${this.describe([other.split('@')[0]!, id])}`);
        seen.set(key, `${id}@${w.id}`);
      }
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

  private converged(): boolean {
    const m = this.leader();
    if (!m) return false;
    for (const s of m.store.list('service')) {
      const want = s.Spec.Mode?.Replicated?.Replicas ?? 0;
      let running = 0;
      for (const w of this.workers.values()) for (const rt of w.tasks.values()) if (rt.serviceId === s.ID && rt.state === 'running') running++;
      if (running !== want) return false;
    }
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
        let running = 0;
        for (const w of this.workers.values()) for (const rt of w.tasks.values()) if (rt.serviceId === s.ID && rt.state === 'running') running++;
        const want = s.Spec.Mode?.Replicated?.Replicas ?? 0;
        if (running === want) return `${s.Spec.Name}: ${running}/${want}`;
        const tasks = m.store.list('task').filter((t) => t.ServiceID === s.ID).map((t) => `${t.ID}#${t.Slot} ${t.DesiredState}/${t.Status.State}@${t.NodeID || '-'} ${t.Status.Message ?? ''}`);
        return `${s.Spec.Name}: ${running}/${want} [${tasks.join('; ')}]`;
      });
      throw new Violation(`not converged ${this.endAll - this.endChaos} ms after the faults stopped: ${detail.join(', ')}`);
    }
  }
}
