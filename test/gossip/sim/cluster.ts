/**
 * Deterministic simulation of a whole gossip cluster in one process: real
 * GossipCore instances, a simulated datagram network (latency, tail latency,
 * loss, duplication, partitions), a simulated push-pull stream, and faults
 * (paused members, slow members, crashes, restarts). One seed decides
 * everything; the same seed replays the same run.
 *
 * Invariants checked while it runs:
 * - No false positive. DEFINITION: a member X is falsely declared dead when a
 *   member D's own suspicion timer declares X dead at time t although, for the
 *   whole window [t − T_min, t], X was running (not crashed, not paused) and
 *   reachable from D (no partition between them), where T_min is the
 *   suspicion floor for the cluster size (suspicionMult × log10(n) × probe
 *   interval): the shortest time SWIM ever gives a suspect to refute. Such a
 *   member had every chance to refute and the protocol still killed it.
 *   Paused members: a member paused during that window (e.g. a pause longer
 *   than the suspicion timeout) may legitimately be declared dead; it is
 *   counted as `excusedDeaths`, not as a false positive, and it must come back
 *   by refuting with a higher incarnation (checked by convergence at the end).
 * - Crashed members are detected by every member (detection times recorded).
 * - At the end (after a quiet period with no new faults) every running member
 *   sees every running member alive (or momentarily suspect) and every crashed
 *   member dead.
 */
import { seededRng, type Rng } from '../../../src/util/rng.js';
import { GossipCore } from '../../../src/gossip/core.js';
import type { GossipEvent, GossipMessage, MemberRecord, NodeMeta, PushPullState, Ready } from '../../../src/gossip/interface.js';
import { compoundSchema, pushPullStateSchema } from '../../../src/gossip/messages.js';
import { GossipMetrics } from '../../../src/gossip/metrics.js';
import { resolveOptions, suspicionMinMs, type GossipOptions } from '../../../src/gossip/options.js';
import { encodedSize } from '../../../src/gossip/size.js';
import { validate } from '../../../src/wire/schema.js';
import { EventQueue, type SimEvent } from '../../sim/event-queue.js';
import type { Scenario } from './scenario.js';

export interface SimNode {
  i: number;
  id: string;
  addr: string;
  core: GossipCore;
  crashed: boolean;
  paused: boolean;
  /** Pause history [start, end) for the false-positive definition. */
  pauses: number[];
  backlog: { from: string; msgs: readonly GossipMessage[] }[];
  slowExtra: [number, number] | null;
  pauser: boolean;
  wakeAt: number;
  /** Metrics of previous lives (restarts), so totals survive. */
  pastMetrics: GossipMetrics[];
}

interface CrashRecord {
  node: number;
  at: number;
  /** Observer index → time it first saw the member dead/left. */
  seenAt: Map<number, number>;
  restarted: boolean;
}

interface PartitionRecord {
  start: number;
  end: number;
  group: Uint8Array;
}

export interface FalsePositive {
  at: number;
  declarer: string;
  target: string;
}

export interface SimResult {
  members: number;
  simMs: number;
  wallMs: number;
  /** CPU time of the run (user + system): fairer than wall time on a shared machine. */
  cpuMs: number;
  falsePositives: FalsePositive[];
  /** Deaths declared of members that were paused or partitioned from the declarer in the window (legitimate). */
  excusedDeaths: number;
  /** Per crash: ms until the first member saw it dead. */
  detectFirst: number[];
  /** Per crash: ms until every member that stayed running (and never paused meanwhile) saw it dead. */
  detectAll: number[];
  /** Crashes some required observer never detected (should be empty). */
  undetected: string[];
  /** Views that disagree with reality at the end, with a few examples. */
  viewMismatches: number;
  mismatchExamples: string[];
  udpBytes: number;
  pushPullBytes: number;
  packets: number;
  /** Per-member average bytes/s (UDP + push-pull). */
  bytesPerMemberPerS: number;
  metrics: GossipMetrics;
  backlogDrops: number;
  schemaErrors: string[];
  /** Pauses that ended: an upper bound for the stalls the cores may notice. */
  resumes: number;
}

const META: NodeMeta = { resources: { nanoCpus: 4_000_000_000, memoryBytes: 8 * 1024 ** 3 }, labels: { zone: 'z1' } };

export class Simulation {
  readonly q = new EventQueue();
  readonly nodes: SimNode[] = [];
  private readonly byAddr = new Map<string, SimNode>();
  private readonly net: Rng;
  private readonly faults: Rng;
  private readonly coreRngs: Rng;
  readonly options: GossipOptions;
  private partitions: PartitionRecord[] = [];
  private group: Uint8Array;
  private crashes = new Map<number, CrashRecord>();
  private falsePositives: FalsePositive[] = [];
  private excusedDeaths = 0;
  private udpBytes = 0;
  private pushPullBytes = 0;
  private packets = 0;
  private backlogDrops = 0;
  /** Pauses that ended (each may legitimately be noticed as one stall by the paused member). */
  private resumes = 0;
  private schemaErrors: string[] = [];
  /** Optional hook to watch every event (tests). */
  onEvent: ((node: SimNode, e: GossipEvent) => void) | null = null;

  constructor(
    readonly sc: Scenario,
    readonly seed: number,
  ) {
    const root = seededRng(seed);
    this.net = root.fork();
    this.faults = root.fork();
    this.coreRngs = root.fork();
    this.options = resolveOptions(sc.options);
    this.group = new Uint8Array(sc.members);
    const nSlow = Math.round(sc.members * sc.slowFraction);
    const nPause = Math.round(sc.members * sc.pausedFraction);
    // Member 0 is the join seed: never slow, paused or crashed.
    const roles = this.faults.shuffle(Array.from({ length: sc.members - 1 }, (_, k) => k + 1));
    const slow = new Set(roles.slice(0, nSlow));
    const pausers = new Set(roles.slice(nSlow, nSlow + nPause));
    for (let i = 0; i < sc.members; i++) {
      const n: SimNode = {
        i,
        id: `n${i}`,
        addr: `10.${(i >> 8) & 255}.${i & 255}.1:4242`,
        core: undefined as unknown as GossipCore,
        crashed: false,
        paused: false,
        pauses: [],
        backlog: [],
        slowExtra: slow.has(i) ? sc.slowExtraMs : null,
        pauser: pausers.has(i),
        wakeAt: Infinity,
        pastMetrics: [],
      };
      n.core = this.newCore(n, 1);
      this.nodes.push(n);
      this.byAddr.set(n.addr, n);
    }
  }

  private newCore(n: SimNode, incarnation: number): GossipCore {
    return new GossipCore({
      self: { id: n.id, addr: n.addr, clusterAddr: n.addr, role: n.i < 3 ? 'manager' : 'worker', meta: META, incarnation },
      rng: this.coreRngs.fork(),
      nowMs: this.q.now,
      options: this.sc.options,
    });
  }

  // ------------------------------------------------------------ driving

  /** Runs the whole scenario and returns its figures. */
  run(): SimResult {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    this.bootstrap();
    this.scheduleFaults();
    this.q.runUntil(this.sc.durationMs);
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    return this.result(wallMs, (c.user + c.system) / 1000);
  }

  private bootstrap(): void {
    const sc = this.sc;
    if (sc.bootstrap === 'restore') {
      const records: MemberRecord[] = this.nodes.map((n) => n.core.member(n.id)!);
      for (const n of this.nodes) this.interact(n, () => n.core.restoreMembers(records));
    } else {
      this.interact(this.nodes[0]!, () => {});
      // One member joins every 200 ms through member 0.
      for (let i = 1; i < sc.members; i++) {
        const n = this.nodes[i]!;
        this.q.at(i * 200, () => {
          // The process starts now (its core's clock begins at its start).
          n.core = this.newCore(n, 1);
          this.interact(n, () => n.core.join([this.nodes[0]!.addr]));
        });
      }
    }
  }

  /** Ticks `n` to now, runs `f` on it, sends what it produced and schedules its next wake-up. */
  private interact(n: SimNode, f: () => void): void {
    n.core.tick(this.q.now);
    f();
    this.drain(n);
    this.scheduleWake(n);
  }

  private scheduleWake(n: SimNode): void {
    const d = n.core.nextDeadline();
    if (!Number.isFinite(d)) return;
    const t = Math.max(Math.ceil(d), this.q.now);
    if (t >= n.wakeAt && n.wakeAt >= this.q.now) return;
    n.wakeAt = t;
    this.q.push(t, new Wake(this, n, t));
  }

  /** A scheduled wake-up of `n` (stale when a newer one replaced it). */
  wake(n: SimNode, t: number): void {
    if (n.wakeAt !== t || n.crashed || n.paused) return;
    n.wakeAt = Infinity;
    n.core.tick(this.q.now);
    this.drain(n);
    this.scheduleWake(n);
  }

  private drain(n: SimNode): void {
    if (!n.core.hasReady()) return;
    const r: Ready = n.core.ready();
    for (const p of r.packets) this.sendPacket(n, p.to, p.messages, p.bytes);
    for (const pp of r.pushPulls) this.pushPull(n, pp.to, pp.state);
    for (const e of r.events) this.observe(n, e);
  }

  // ------------------------------------------------------------ network

  private reachable(a: number, b: number): boolean {
    return this.group[a] === this.group[b];
  }

  private latency(from: SimNode, to: SimNode): number {
    const sc = this.sc;
    const r = this.net;
    let l = r.range(sc.latencyMs[0], sc.latencyMs[1]);
    if (r.chance(sc.tailProb)) l += r.range(sc.tailMs[0], sc.tailMs[1]);
    if (from.slowExtra) l += r.range(from.slowExtra[0], from.slowExtra[1]);
    if (to.slowExtra) l += r.range(to.slowExtra[0], to.slowExtra[1]);
    return l;
  }

  private sendPacket(from: SimNode, to: string, msgs: GossipMessage[], bytes: number): void {
    this.packets++;
    this.udpBytes += bytes;
    if (this.sc.checkSchemas) {
      const err = validate(compoundSchema, { type: 'compound', msgs });
      if (err !== null && this.schemaErrors.length < 10) this.schemaErrors.push(`${from.id}→${to}: ${err}`);
      if (bytes > this.options.maxPacketBytes - this.options.packetOverheadBytes) this.schemaErrors.push(`${from.id}→${to}: packet of ${bytes} bytes`);
    }
    const dest = this.byAddr.get(to);
    if (!dest || !this.reachable(from.i, dest.i)) return;
    if (this.net.chance(this.sc.loss)) return;
    const copies = this.net.chance(this.sc.duplicate) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      this.q.push(this.q.now + this.latency(from, dest), new Delivery(this, dest, from.addr, msgs));
    }
  }

  deliver(n: SimNode, from: string, msgs: readonly GossipMessage[]): void {
    if (n.crashed) return;
    if (n.paused) {
      // The socket buffer: ~10k datagrams, then the kernel drops.
      if (n.backlog.length < 10_000) n.backlog.push({ from, msgs });
      else this.backlogDrops++;
      return;
    }
    n.core.tick(this.q.now);
    n.core.receive(from, msgs);
    this.drain(n);
    this.scheduleWake(n);
  }

  /** A push-pull over a simulated stream: no loss, fails when the peer is down, paused or cut off. */
  private pushPull(from: SimNode, to: string, state: PushPullState): void {
    const dest = this.byAddr.get(to);
    if (!dest || !this.reachable(from.i, dest.i)) return;
    if (this.sc.checkSchemas) this.checkState(from, state);
    const size = encodedSize(state);
    this.pushPullBytes += size;
    this.q.after(this.latency(from, dest) * 2, () => {
      if (dest.crashed || dest.paused || !this.reachable(from.i, dest.i)) return;
      let reply: PushPullState | null = null;
      this.interact(dest, () => {
        reply = dest.core.handlePushPull(state);
      });
      const r = reply as PushPullState | null;
      if (!r) return;
      if (this.sc.checkSchemas) this.checkState(dest, r);
      this.pushPullBytes += encodedSize(r);
      const core = from.core;
      this.q.after(this.latency(dest, from), () => {
        // A restarted member has a new core: a reply meant for its old life is dropped with the stream.
        if (from.crashed || from.paused || from.core !== core) return;
        this.interact(from, () => from.core.mergeRemoteState(r));
      });
    });
  }

  private checkState(n: SimNode, s: PushPullState): void {
    const err = validate(pushPullStateSchema, s);
    if (err !== null && this.schemaErrors.length < 10) this.schemaErrors.push(`${n.id} push-pull: ${err}`);
  }

  // ------------------------------------------------------------ faults

  private scheduleFaults(): void {
    const sc = this.sc;
    const r = this.faults;
    const faultEnd = sc.durationMs - sc.quietMs;
    for (const n of this.nodes) {
      if (!n.pauser) continue;
      this.q.at(r.range(0, sc.runMs[1]), () => this.pause(n, faultEnd));
    }
    // Crash victims: never the seed, a pauser or a slow member (their detection is what we measure).
    const candidates = r.shuffle(this.nodes.filter((n) => n.i !== 0 && !n.pauser && !n.slowExtra));
    for (let k = 0; k < sc.crashes && k < candidates.length; k++) {
      const n = candidates[k]!;
      const at = sc.crashes === 1 ? sc.crashFromMs : Math.round(sc.crashFromMs + ((sc.crashUntilMs - sc.crashFromMs) * k) / (sc.crashes - 1));
      this.q.at(at, () => this.crash(n));
    }
    for (const p of sc.partitions) {
      this.q.at(p.atMs, () => this.partition(p.fraction, p.atMs + p.durationMs));
    }
  }

  private pause(n: SimNode, faultEnd: number): void {
    const sc = this.sc;
    const r = this.faults;
    const now = this.q.now;
    if (now >= faultEnd || n.crashed) return;
    const dur = r.range(sc.pauseMs[0], sc.pauseMs[1]);
    n.paused = true;
    n.pauses.push(now, now + dur);
    this.q.at(now + dur, () => {
      n.paused = false;
      this.resumes++;
      // Adversarial order: the timers that expired during the pause fire
      // first (tick), then the backlog of datagrams is read.
      this.interact(n, () => {
        const backlog = n.backlog;
        n.backlog = [];
        for (const b of backlog) n.core.receive(b.from, b.msgs);
      });
      this.q.at(this.q.now + r.range(sc.runMs[0], sc.runMs[1]), () => this.pause(n, faultEnd));
    });
  }

  private crash(n: SimNode): void {
    if (n.crashed) return;
    n.crashed = true;
    n.backlog = [];
    this.crashes.set(n.i, { node: n.i, at: this.q.now, seenAt: new Map(), restarted: false });
    if (this.sc.restartAfterMs > 0) this.q.after(this.sc.restartAfterMs, () => this.restart(n));
  }

  private restart(n: SimNode): void {
    const rec = this.crashes.get(n.i);
    if (rec) rec.restarted = true;
    n.pastMetrics.push(n.core.metrics);
    // A fresh process: incarnation 1 again, no memory. It learns that the
    // cluster holds it dead at a higher incarnation and refutes above it.
    n.core = this.newCore(n, 1);
    n.crashed = false;
    n.wakeAt = Infinity;
    this.interact(n, () => n.core.join([this.nodes[0]!.addr]));
  }

  private partition(fraction: number, healAt: number): void {
    const r = this.faults;
    const g = new Uint8Array(this.sc.members);
    const cut = r.shuffle(Array.from({ length: this.sc.members - 1 }, (_, k) => k + 1)).slice(0, Math.round(this.sc.members * fraction));
    for (const i of cut) g[i] = 1;
    this.group = g;
    const rec: PartitionRecord = { start: this.q.now, end: Infinity, group: g };
    this.partitions.push(rec);
    this.q.at(healAt, () => {
      this.group = new Uint8Array(this.sc.members);
      rec.end = this.q.now;
    });
  }

  // ------------------------------------------------------------ invariants and figures

  private observe(n: SimNode, e: GossipEvent): void {
    this.onEvent?.(n, e);
    if (e.type !== 'dead' && e.type !== 'left') return;
    const target = this.nodeById(e.member.id);
    if (!target) return;
    const now = this.q.now;
    const crash = this.crashes.get(target.i);
    if (crash && target.crashed && !crash.seenAt.has(n.i)) crash.seenAt.set(n.i, now);
    if (e.type !== 'dead' || !e.local) return;
    // n's own timer declared target dead: was it a false positive?
    if (target.crashed) return;
    const tmin = suspicionMinMs(this.options, this.running());
    const from = now - tmin;
    if (this.wasPaused(target, from, now) || this.wasCutOff(n.i, target.i, from, now)) {
      this.excusedDeaths++;
      return;
    }
    this.falsePositives.push({ at: now, declarer: n.id, target: target.id });
  }

  private wasPaused(n: SimNode, from: number, to: number): boolean {
    const p = n.pauses;
    for (let k = p.length - 2; k >= 0; k -= 2) {
      if (p[k + 1]! < from) break;
      if (p[k]! <= to) return true;
    }
    return false;
  }

  private wasCutOff(a: number, b: number, from: number, to: number): boolean {
    for (const p of this.partitions) {
      if (p.end >= from && p.start <= to && p.group[a] !== p.group[b]) return true;
    }
    return false;
  }

  private running(): number {
    let k = 0;
    for (const n of this.nodes) if (!n.crashed) k++;
    return k;
  }

  nodeById(id: string): SimNode | undefined {
    return this.nodes[Number(id.slice(1))];
  }

  private result(wallMs: number, cpuMs: number): SimResult {
    const sc = this.sc;
    const detectFirst: number[] = [];
    const detectAll: number[] = [];
    const undetected: string[] = [];
    for (const c of this.crashes.values()) {
      let first = Infinity;
      for (const t of c.seenAt.values()) first = Math.min(first, t);
      if (first < Infinity) detectFirst.push(first - c.at);
      let all = 0;
      let missing = 0;
      for (const o of this.nodes) {
        if (o.i === c.node || this.crashes.has(o.i)) continue;
        const seen = c.seenAt.get(o.i);
        // Members paused at any time until they saw it are excused: they
        // process nothing while paused (their delay is the pause, not SWIM's).
        const until = seen ?? sc.durationMs;
        if (o.pauser && this.wasPaused(o, c.at, until)) continue;
        if (this.partitions.some((p) => p.end >= c.at && p.start <= until && p.group[o.i] !== p.group[c.node])) continue;
        if (seen === undefined) missing++;
        else all = Math.max(all, seen - c.at);
      }
      if (missing > 0) {
        // Only a problem if there was time to detect it (60 s) before the end or a restart.
        const deadline = c.at + 60_000;
        if (deadline <= sc.durationMs && !(c.restarted && c.at + sc.restartAfterMs < deadline)) undetected.push(`n${c.node}: ${missing} members never saw it dead`);
      } else detectAll.push(all);
    }

    // Convergence at the end.
    let viewMismatches = 0;
    const mismatchExamples: string[] = [];
    for (const o of this.nodes) {
      if (o.crashed) continue;
      for (const m of o.core.members()) {
        const t = this.nodeById(m.id)!;
        const ok = t.crashed ? m.state === 'dead' || m.state === 'left' : m.state === 'alive' || m.state === 'suspect';
        if (!ok) {
          viewMismatches++;
          if (mismatchExamples.length < 5) mismatchExamples.push(`${o.id} sees ${m.id} ${m.state}@${m.incarnation} (really ${t.crashed ? 'crashed' : 'running'})`);
        }
      }
      // Members it does not know at all.
      const known = o.core.members().length;
      const expected = this.nodes.length;
      if (known < expected) {
        viewMismatches += expected - known;
        if (mismatchExamples.length < 5) mismatchExamples.push(`${o.id} knows ${known} of ${expected} members`);
      }
    }

    const metrics = new GossipMetrics();
    for (const n of this.nodes) {
      metrics.add(n.core.metrics);
      for (const pm of n.pastMetrics) metrics.add(pm);
    }
    const seconds = sc.durationMs / 1000;
    return {
      members: sc.members,
      simMs: sc.durationMs,
      wallMs,
      cpuMs,
      falsePositives: this.falsePositives,
      excusedDeaths: this.excusedDeaths,
      detectFirst,
      detectAll,
      undetected,
      viewMismatches,
      mismatchExamples,
      udpBytes: this.udpBytes,
      pushPullBytes: this.pushPullBytes,
      packets: this.packets,
      bytesPerMemberPerS: (this.udpBytes + this.pushPullBytes) / sc.members / seconds,
      metrics,
      backlogDrops: this.backlogDrops,
      schemaErrors: this.schemaErrors,
      resumes: this.resumes,
    };
  }
}

class Wake implements SimEvent {
  constructor(
    private readonly sim: Simulation,
    private readonly n: SimNode,
    private readonly t: number,
  ) {}
  fire(): void {
    this.sim.wake(this.n, this.t);
  }
}

class Delivery implements SimEvent {
  constructor(
    private readonly sim: Simulation,
    private readonly n: SimNode,
    private readonly from: string,
    private readonly msgs: readonly GossipMessage[],
  ) {}
  fire(): void {
    this.sim.deliver(this.n, this.from, this.msgs);
  }
}

/** Nearest-rank percentile (p in [0, 100]) of a list; NaN when empty. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(s.length, rank) - 1]!;
}

export function runScenario(sc: Scenario, seed: number): SimResult {
  return new Simulation(sc, seed).run();
}

/** Problems that make a run fail (empty = pass). */
export function violations(r: SimResult): string[] {
  const v: string[] = [];
  if (r.falsePositives.length > 0) {
    const f = r.falsePositives[0]!;
    v.push(`${r.falsePositives.length} false positive(s), first: ${f.declarer} declared ${f.target} dead at ${f.at} ms`);
  }
  for (const u of r.undetected) v.push(`crash not detected: ${u}`);
  if (r.viewMismatches > 0) v.push(`${r.viewMismatches} view mismatch(es) at the end, e.g. ${r.mismatchExamples.join('; ')}`);
  for (const s of r.schemaErrors) v.push(`schema: ${s}`);
  // Only a member that really was paused may believe it stalled (the driver here is never late).
  if (r.metrics.stalls > r.resumes) v.push(`${r.metrics.stalls} stalls noticed but only ${r.resumes} pauses`);
  return v;
}
