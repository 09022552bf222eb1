/**
 * Deterministic simulation of a Raft cluster: 3–7 nodes, simulated clients
 * and a nemesis in one process, all driven by one seed. Safety invariants are
 * checked as events happen; at the end the client history must be
 * linearizable, and after faults stop the cluster must elect a leader and
 * commit within a bound.
 */
import { checkKv } from '../../../chaos-tests/linearizability/index.js';
import type { KvInput, KvOperation, KvOutput } from '../../../chaos-tests/linearizability/index.js';

import { RaftError } from '../../../src/raft/errors.js';
import type { ConfChange, ConfState, Message, NodeId } from '../../../src/raft/interface.js';
import { totalDropped } from '../../../src/raft/metrics.js';
import { seededRng } from '../../../src/util/rng.js';
import type { Rng } from '../../../src/util/rng.js';
import { EventQueue } from '../../sim/event-queue.js';
import { Invariants, SafetyViolation } from './invariants.js';
import { encodeCommand } from './kv.js';
import type { Applied } from './kv.js';
import { SimNetwork } from './network.js';
import { SimNode } from './node.js';
import { drawScenario, STEPS_PER_TICK } from './scenario.js';
import type { Scenario, ScenarioOverrides } from './scenario.js';
import { MemoryStorage } from './storage.js';

export interface SimResult {
  seed: number;
  ok: boolean;
  /** What failed: a safety violation, liveness, linearizability, or a crash of the core. */
  failure?: string;
  ticks: number;
  ops: number;
  okOps: number;
  unknownOps: number;
  leaders: number;
  messages: number;
  dropped: number;
  /** Ticks from healing to a commit applied on every voter. */
  livenessTicks: number;
  /** Rough counts (from the cores alive at the end) showing which paths ran. */
  features: Record<string, number>;
  scenario: Scenario;
  trace?: string[];
}

export interface SimOptions extends ScenarioOverrides {
  trace?: boolean;
  /** Linearizability check time limit. */
  checkTimeoutMs?: number;
}

type Ev = { kind: 'deliver'; m: Message } | { kind: 'tick'; node: SimNode } | { kind: 'call'; fn: () => void };

interface PendingOp {
  proc: number;
  client: number;
  input: KvInput;
  call: number;
  node: NodeId;
  viaLog: boolean;
}

class LivenessFailure extends Error {}

export function runSimulation(seed: number, so: SimOptions = {}): SimResult {
  const sim = new Simulation(seed, so);
  return sim.run();
}

class Simulation {
  private readonly rng: Rng;
  private readonly sc: Scenario;
  private readonly q = new EventQueue();
  private readonly inv = new Invariants();
  private readonly net: SimNetwork;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly spareIds: NodeId[] = [];
  private now = 0;
  private clock = 0;
  private history: KvOperation[] = [];
  private readonly opIdOf = new Map<KvOperation, number>();
  private pending = new Map<number, PendingOp>();
  private nextOpId = 1;
  private nextProc = 0;
  private procOf: number[] = [];
  private healed = false;
  private endAt: number;
  private trace: string[] | null;
  private livenessTicks = -1;
  private rngs: { net: Rng; nodes: Rng; clients: Rng; nemesis: Rng };

  constructor(
    private readonly seed: number,
    private readonly so: SimOptions,
  ) {
    this.rng = seededRng(seed);
    this.sc = drawScenario(this.rng.fork(), so);
    this.rngs = { net: this.rng.fork(), nodes: this.rng.fork(), clients: this.rng.fork(), nemesis: this.rng.fork() };
    this.trace = so.trace ? [] : null;
    this.net = new SimNetwork(this.rngs.net, { ...this.sc.net }, (m, d) => this.schedule(d, { kind: 'deliver', m }));
    const ids = Array.from({ length: this.sc.voters + this.sc.spares }, (_, i) => `n${i}`);
    const voters = ids.slice(0, this.sc.voters);
    this.spareIds.push(...ids.slice(this.sc.voters));
    for (const id of voters) this.startNode(id, { voters, learners: [] });
    this.endAt = (this.sc.faultTicks + this.sc.livenessBound) * STEPS_PER_TICK;
  }

  private log(s: string): void {
    this.trace?.push(`t=${(this.now / STEPS_PER_TICK).toFixed(1)} ${s}`);
  }

  private schedule(delay: number, e: { kind: 'deliver'; m: Message } | { kind: 'call'; fn: () => void }): void {
    this.push(this.now + delay, e);
  }

  private push(at: number, e: Ev): void {
    this.q.push(at, { fire: () => this.handle(e) });
  }

  private later(delay: number, fn: () => void): void {
    if (delay === 0) fn();
    else this.schedule(delay, { kind: 'call', fn });
  }

  private startNode(id: NodeId, conf: ConfState): SimNode {
    const node = new SimNode(
      id,
      new MemoryStorage(conf),
      this.rngs.nodes.fork(),
      { options: this.sc.options, snapshotEvery: this.sc.snapshotEvery, maxFsyncDelay: this.sc.maxFsyncDelay, earlyAppends: this.sc.earlyAppends },
      {
        send: (m) => this.net.send(m),
        later: (d, fn) => this.later(d, fn),
        applied: (n, a) => this.onApplied(n, a),
        readDone: (n, id2, v) => this.onRead(n, id2, v),
      },
      this.inv,
    );
    this.nodes.set(id, node);
    node.start();
    // Each node ticks at its own phase within the tick period.
    const phase = this.rngs.nodes.int(STEPS_PER_TICK);
    this.push(this.now + phase + 1, { kind: 'tick', node });
    return node;
  }

  run(): SimResult {
    let failure: string | undefined;
    try {
      for (let c = 0; c < this.sc.clients; c++) {
        this.procOf[c] = this.nextProc++;
        this.later(1 + this.rngs.clients.int(20), () => this.issue(c));
      }
      this.scheduleFault();
      this.later(this.sc.faultTicks * STEPS_PER_TICK, () => this.heal());
      this.loop();
      if (this.livenessTicks < 0) throw new LivenessFailure(`no commit on every voter within ${this.sc.livenessBound} ticks of healing`);
      failure = this.checkHistory();
    } catch (err) {
      if (err instanceof SafetyViolation) failure = `safety: ${err.message}`;
      else if (err instanceof LivenessFailure) failure = `liveness: ${err.message}`;
      else failure = `crash: ${(err as Error).stack ?? String(err)}`;
    }
    if (failure !== undefined && this.trace) this.dumpState();
    let messages = 0;
    let dropped = 0;
    const features = { snapshotsInstalled: 0, confEntries: 0, transfers: 0, readIndexServed: 0, checkQuorumStepDowns: 0, forwarded: 0 };
    for (const n of this.nodes.values()) {
      if (n.core) {
        const m = n.core.metrics;
        messages += m.messagesIn;
        dropped += totalDropped(m);
        features.snapshotsInstalled += m.snapshotsInstalled;
        features.confEntries += m.confEntries;
        features.transfers += m.transfersStarted;
        features.readIndexServed += m.readIndexServed;
        features.checkQuorumStepDowns += m.checkQuorumStepDowns;
        features.forwarded += m.proposalsForwarded;
      }
    }
    const res: SimResult = {
      seed: this.seed,
      ok: failure === undefined,
      ticks: Math.floor(this.now / STEPS_PER_TICK),
      ops: this.history.length,
      okOps: this.history.filter((o) => o.ret !== Infinity).length,
      unknownOps: this.history.filter((o) => o.ret === Infinity).length,
      leaders: this.inv.leadersSeen(),
      messages,
      dropped,
      livenessTicks: this.livenessTicks,
      features,
      scenario: this.sc,
    };
    if (failure !== undefined) res.failure = failure;
    if (this.trace) res.trace = this.trace;
    return res;
  }

  private loop(): void {
    this.done = false;
    for (let e = this.q.next(this.endAt); e !== undefined && !this.done; e = this.q.next(this.endAt)) {
      this.now = this.q.now;
      e.fire();
    }
  }

  /** Set when liveness was shown: the run is over. */
  private done = false;

  private handle(e: Ev): void {
    switch (e.kind) {
      case 'deliver': {
        const n = this.nodes.get(e.m.to);
        if (n === undefined || !this.net.linkUp(e.m.from, e.m.to)) break;
        n.deliver(e.m);
        this.check(n);
        break;
      }
      case 'tick':
        e.node.tick();
        this.check(e.node);
        this.push(this.now + STEPS_PER_TICK, e);
        if (this.healed && this.livenessTicks >= 0) this.done = true; // liveness shown: done
        break;
      case 'call':
        e.fn();
        for (const n of this.nodes.values()) this.check(n);
        break;
    }
  }

  private check(n: SimNode): void {
    if (n.core !== null && this.inv.checkRole(n.id, n.core)) this.log(`${n.id} leads term ${n.core.status.term}`);
  }

  private dumpState(): void {
    for (const n of this.nodes.values()) {
      if (n.core === null) {
        this.log(`${n.id}: down`);
        continue;
      }
      const st = n.core.status;
      const prs = n.core.confState();
      let line = `${n.id}: ${JSON.stringify(st)} conf=${JSON.stringify(prs)} kvApplied=${n.kv.applied} paused=${n.paused}`;
      if (st.role === 'leader') {
        for (const p of [...prs.voters, ...prs.learners]) {
          const pr = n.core.progressOf(p);
          if (pr) line += ` | ${p}: ${pr.state} m=${pr.match} n=${pr.next} paused=${pr.paused} inflight=${pr.inflights.count}`;
        }
      }
      line += ` dropped=${JSON.stringify(n.core.metrics.dropped)}`;
      this.log(line);
    }
  }

  // ---------------------------------------------------------------- clients

  private issue(c: number): void {
    const rng = this.rngs.clients;
    const ids = [...this.nodes.keys()];
    const node = this.nodes.get(rng.pick(ids))!;
    const key = `k${rng.int(this.sc.keys)}`;
    const id = this.nextOpId++;
    const r = rng.next();
    const input: KvInput = r < 0.4 ? { op: 'get', key } : r < 0.7 ? { op: 'put', key, value: `${id}` } : { op: 'append', key, value: `${id},` };
    const viaLog = input.op !== 'get' || !rng.chance(this.sc.readIndexGets);
    const call = ++this.clock;
    const accepted = viaLog
      ? node.propose(encodeCommand({ id, op: input.op, key, value: input.op === 'get' ? '' : input.value }))
      : node.read(id, key);
    if (!accepted) {
      // Refused on the spot (down, no leader, cap): it certainly did not happen.
      this.later(1 + rng.int(3 * STEPS_PER_TICK), () => this.issue(c));
      return;
    }
    const op: PendingOp = { proc: this.procOf[c]!, client: c, input, call, node: node.id, viaLog };
    this.pending.set(id, op);
    this.later(this.sc.clientTimeoutTicks * STEPS_PER_TICK, () => this.timeout(id));
  }

  private finish(id: number, op: PendingOp, output: KvOutput | undefined, ret: number): void {
    this.pending.delete(id);
    const rec: KvOperation = { client: op.proc, call: op.call, ret, input: op.input, output };
    this.opIdOf.set(rec, id);
    this.history.push(rec);
    if (ret === Infinity) this.procOf[op.client] = this.nextProc++; // a crashed client: new process (Jepsen :info)
    this.later(this.rngs.clients.int(2 * STEPS_PER_TICK), () => this.issue(op.client));
  }

  private onApplied(n: SimNode, a: Applied): void {
    this.everApplied.add(a.id);
    if (a.id === this.markerId && this.markerIndex === 0) this.markerIndex = n.kv.applied;
    const op = this.pending.get(a.id);
    if (op === undefined || op.node !== n.id || !op.viaLog) return;
    this.finish(a.id, op, op.input.op === 'get' ? { value: a.value } : {}, ++this.clock);
  }

  private onRead(n: SimNode, id: number, value: string): void {
    const op = this.pending.get(id);
    if (op === undefined || op.node !== n.id || op.viaLog) return;
    this.finish(id, op, { value }, ++this.clock);
  }

  private timeout(id: number): void {
    const op = this.pending.get(id);
    if (op === undefined) return;
    if (op.input.op === 'get') {
      // A read that never answered has no effect: leave it out of the history.
      this.pending.delete(id);
      this.procOf[op.client] = this.nextProc++;
      this.later(this.rngs.clients.int(2 * STEPS_PER_TICK), () => this.issue(op.client));
      return;
    }
    this.finish(id, op, undefined, Infinity);
  }

  private checkHistory(): string | undefined {
    for (const [id, op] of this.pending) {
      if (op.input.op === 'get') continue;
      const rec: KvOperation = { client: op.proc, call: op.call, ret: Infinity, input: op.input, output: undefined };
      this.opIdOf.set(rec, id);
      this.history.push(rec);
    }
    this.pending.clear();
    // Writes with an unknown outcome stay in the history with ret = Infinity
    // only if some state machine applied them. The simulator sees every state
    // machine, so a write none applied certainly did not take effect (and
    // cannot later: the history is closed), and leaving it out only narrows
    // the linearizations the checker may pick. It also keeps the search small:
    // each unknown append multiplies the candidate states.
    const ops = this.history.filter((o) => o.ret !== Infinity || this.everApplied.has(this.opIdOf.get(o) ?? -1));
    this.history = ops;
    const res = checkKv(ops, { timeoutMs: this.so.checkTimeoutMs ?? 20_000 });
    if (res.verdict === 'not linearizable') return `linearizability: ${res.window ?? ''}`;
    if (res.verdict === 'unknown') return `linearizability: checker gave up (unknown) on ${this.history.length} ops`;
    return undefined;
  }

  // ---------------------------------------------------------------- nemesis

  private scheduleFault(): void {
    const [lo, hi] = this.sc.faultEvery;
    this.later(this.rngs.nemesis.range(lo, hi) * STEPS_PER_TICK, () => {
      if (this.healed) return;
      this.fault();
      this.scheduleFault();
    });
  }

  private leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.nodes.values()) {
      if (n.live && n.core!.status.role === 'leader' && (best === null || n.core!.status.term > best.core!.status.term)) best = n;
    }
    return best;
  }

  private fault(): void {
    const rng = this.rngs.nemesis;
    const f = this.sc.faults;
    const kinds: string[] = ['loss'];
    // Faults aimed at the leader churn leadership quickly: the interleavings
    // behind Raft's subtle bugs (Figure 8) need leaders to die right after
    // replicating to a minority.
    if (f.crash) kinds.push('crash', 'crash', 'crashLeader');
    if (f.pause) kinds.push('pause');
    if (f.partition) kinds.push('partition', 'partition');
    if (f.asymmetric) kinds.push('asym');
    if (f.membership) kinds.push('member', 'member');
    if (f.transfer) kinds.push('transfer');
    if (f.garbage) kinds.push('garbage');
    const kind = rng.pick(kinds);
    const running = [...this.nodes.values()];
    const dur = (): number => rng.range(5, 60) * STEPS_PER_TICK;
    switch (kind) {
      case 'loss':
        this.net.cfg.loss = rng.chance(0.5) ? 0 : rng.next() * this.sc.maxLoss;
        this.log(`loss ${this.net.cfg.loss.toFixed(2)}`);
        break;
      case 'crash': {
        const n = rng.pick(running);
        if (!n.up) break;
        n.crash();
        this.log(`crash ${n.id}`);
        this.later(dur(), () => {
          if (!n.up) {
            n.restart();
            this.log(`restart ${n.id}`);
          }
        });
        break;
      }
      case 'crashLeader': {
        const n = this.leader();
        if (n === null) break;
        n.crash();
        this.log(`crash leader ${n.id}`);
        this.later(rng.range(1, 15) * STEPS_PER_TICK, () => {
          if (!n.up) {
            n.restart();
            this.log(`restart ${n.id}`);
          }
        });
        break;
      }
      case 'pause': {
        const n = rng.pick(running);
        if (!n.live) break;
        n.paused = true;
        this.log(`pause ${n.id}`);
        this.later(dur(), () => {
          n.resume();
          this.log(`resume ${n.id}`);
        });
        break;
      }
      case 'partition': {
        const ids = rng.shuffle(running.map((n) => n.id));
        const k = rng.range(1, Math.max(1, ids.length - 1));
        this.net.partition(ids.slice(0, k), ids.slice(k));
        this.log(`partition ${ids.slice(0, k)} | ${ids.slice(k)}`);
        this.later(dur(), () => {
          this.net.heal();
          this.log('heal network');
        });
        break;
      }
      case 'asym': {
        const ids = running.map((n) => n.id);
        for (let i = rng.range(1, 3); i > 0; i--) {
          const a = rng.pick(ids);
          const b = rng.pick(ids);
          if (a !== b) {
            this.net.cutLink(a, b);
            this.log(`cut ${a}>${b}`);
          }
        }
        this.later(dur(), () => this.net.heal());
        break;
      }
      case 'member':
        this.membershipChange();
        break;
      case 'transfer': {
        const l = this.leader();
        if (l === null) break;
        const voters = l.core!.confState().voters.filter((v) => v !== l.id);
        if (voters.length === 0) break;
        const to = rng.pick(voters);
        try {
          l.core!.transferLeadership(to);
          l.pump();
          this.log(`transfer ${l.id} -> ${to}`);
        } catch (err) {
          if (!(err instanceof RaftError)) throw err;
        }
        break;
      }
      case 'garbage':
        this.garbage(rng.pick(running));
        break;
    }
  }

  private membershipChange(): void {
    const rng = this.rngs.nemesis;
    const l = this.leader();
    if (l === null) return;
    const conf = l.core!.confState();
    let change: ConfChange | null = null;
    const r = rng.next();
    if (r < 0.35 && this.spareIds.length > 0) {
      const id = this.spareIds.shift()!;
      // A joining node boots empty and learns the configuration from the log.
      this.startNode(id, { voters: [], learners: [] });
      change = { type: rng.chance(0.7) ? 'addLearner' : 'addVoter', node: id };
    } else if (r < 0.65 && conf.learners.length > 0) {
      change = { type: 'addVoter', node: rng.pick(conf.learners) };
    } else if (conf.voters.length > 3 || (r > 0.9 && conf.voters.length > 1)) {
      change = { type: rng.chance(0.2) ? 'addLearner' : 'removeNode', node: rng.pick(conf.voters) };
    } else if (conf.learners.length > 0) {
      change = { type: 'removeNode', node: rng.pick(conf.learners) };
    }
    if (change === null) return;
    try {
      l.core!.proposeConfChange(change);
      l.pump();
      this.log(`conf ${change.type} ${change.node} via ${l.id}`);
    } catch (err) {
      if (!(err instanceof RaftError)) throw err;
      this.log(`conf ${change.type} ${change.node} refused: ${err.code}`);
    }
  }

  private garbage(n: SimNode): void {
    const rng = this.rngs.nemesis;
    const junk: unknown[] = [
      null,
      42,
      'hello',
      { type: 'append' },
      { type: 'nope', from: 'n0', to: n.id, term: 1 },
      { type: 'append', from: 'n0', to: n.id, term: -1, prevIndex: 0, prevTerm: 0, entries: [], commit: 0 },
      { type: 'append', from: 'n0', to: n.id, term: 3, prevIndex: 5, prevTerm: 9, entries: [], commit: 0 },
      { type: 'heartbeatResp', from: 'stranger', to: n.id, term: 1_000, readSeq: 1 },
      { type: 'vote', from: 'n1', to: 'elsewhere', term: 1_000, pre: false, lastIndex: 0, lastTerm: 0, transfer: false },
      { type: 'appendResp', from: 'n1', to: n.id, term: 1, index: 1e9, reject: 'yes', hintIndex: 0, hintTerm: 0 },
      { type: 'snapshot', from: 'n1', to: n.id, term: 1, meta: { index: 1, term: 1, conf: { voters: [], learners: [] } }, offset: 5, total: 2, data: new Uint8Array(1) },
    ];
    const m = rng.pick(junk);
    if (n.core !== null && !n.paused) {
      n.core.step(m as Message);
      n.pump();
    }
  }

  // --------------------------------------------------------------- liveness

  private heal(): void {
    this.healed = true;
    this.net.heal();
    this.net.cfg.loss = 0;
    this.net.cfg.dup = 0;
    for (const n of this.nodes.values()) {
      if (!n.up) n.restart();
      if (n.paused) n.resume();
    }
    this.log('heal all: liveness phase');
    const healedAt = this.now;
    let proposedTo: NodeId | null = null;
    const poll = (): void => {
      const l = this.leader();
      if (this.markerIndex > 0 && l !== null) {
        const voters = l.core!.confState().voters;
        if (voters.every((v) => (this.nodes.get(v)?.kv.applied ?? 0) >= this.markerIndex)) {
          this.livenessTicks = Math.ceil((this.now - healedAt) / STEPS_PER_TICK);
          this.checkConvergence(voters);
          return;
        }
      } else if (this.markerIndex === 0 && l !== null && l.id !== proposedTo && l.core!.confState().voters.includes(l.id)) {
        // (Re)propose the marker to each new leader until one commits it.
        proposedTo = l.id;
        this.markerId = this.nextOpId++;
        try {
          l.core!.propose(encodeCommand({ id: this.markerId, op: 'put', key: '__liveness', value: '' }));
          l.pump();
        } catch (err) {
          if (!(err instanceof RaftError)) throw err;
          proposedTo = null;
        }
      }
      this.later(STEPS_PER_TICK, poll);
    };
    poll();
  }

  /** Op ids some state machine applied: a timed-out write that never was did not happen. */
  private readonly everApplied = new Set<number>();
  private markerIndex = 0;
  private markerId = -1;

  /** After liveness: every voter applied the same state up to the marker. */
  private checkConvergence(voters: NodeId[]): void {
    const states = voters.map((v) => this.nodes.get(v)!);
    const ref = states[0];
    if (ref === undefined) return;
    for (const n of states) {
      if (n.kv.applied !== ref.kv.applied) continue; // compare only equal prefixes
      for (const [k, v] of ref.kv.data) {
        if (n.kv.data.get(k) !== v) throw new SafetyViolation(`state machines diverge on ${k}: ${ref.id} vs ${n.id}`);
      }
    }
  }

}


