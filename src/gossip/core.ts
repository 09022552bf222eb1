/**
 * The pure SWIM + Lifeguard state machine of one member.
 *
 * SWIM (Das et al. 2002) with memberlist's refinements and all three parts of
 * Lifeguard (Dadgar et al. 2017, arXiv 1707.00788):
 *
 * - Probing: every probe interval, ping the next member of a shuffled
 *   round-robin list; no ack within the probe timeout → ping-req through k
 *   random members (who ack back, or nack when they heard nothing) plus one
 *   direct retry; no ack by the end of the interval → suspect it.
 * - Suspicion: a suspect member refutes by gossiping an alive with a higher
 *   incarnation; otherwise, at the end of its suspicion timeout, it is
 *   declared dead. Incarnations order every claim about a member: higher
 *   wins, and at equal incarnation alive < suspect < dead (left is final).
 * - Dissemination: membership news and user broadcasts are piggybacked on
 *   pings, acks and ping-reqs, and pushed to a few random members by gossip
 *   rounds; each member retransmits each message
 *   retransmitMult × ceil(log10(n+1)) times, least-transmitted first.
 * - Lifeguard: (1) the local health multiplier slows our probing and
 *   stretches our timeouts while we show signs of being the slow one (missed
 *   nacks, refuting suspicions of ourselves, stalls); (2) the suspicion
 *   timeout starts at max = k_mult × min and shrinks by log(c+1)/log(k+1) with
 *   c independent confirmations; (3) the buddy system: a ping to a member we
 *   suspect carries the suspicion, so the suspect hears it first and refutes
 *   at once. We extend (3) to acks: a ping from a member we hold suspect or
 *   dead is answered with that news, so a member back from a pause learns it
 *   was declared dead on its first probe.
 * - Anti-entropy: a periodic push-pull (full state exchange) with a random live
 *   member, and Serf's reconnect: with probability dead/alive, a push-pull
 *   with a random dead member, which is what heals a partition. Merged remote
 *   "dead" entries become suspicions here (memberlist), giving the member
 *   a chance to refute rather than dying by hearsay.
 * - Stall guard: a tick arriving long after the previous one means this
 *   process was paused (GC, SIGSTOP, VM steal). Timers that expired during the
 *   pause did so while we could not read the refutations waiting in our
 *   socket: the in-flight probe is abandoned without a verdict, relays are
 *   dropped, and no suspicion expires for stallGraceMs, so the backlog is read
 *   first. The stall also counts against our health score.
 *
 * Pure: no I/O, no timers, no Date.now, no Math.random. The clock arrives by
 * `tick(nowMs)`, randomness from the Rng given at construction, and output
 * leaves through `ready()`.
 */
import { Histogram, MS_BUCKETS } from '../util/histogram.js';
import type { Rng } from '../util/rng.js';
import { assert } from '../util/assert.js';
import { validate } from '../wire/schema.js';
import { Awareness } from './awareness.js';
import { Dedup } from './dedup.js';
import { GossipError } from './errors.js';
import type {
  AckMsg,
  Addr,
  AliveMsg,
  DeadMsg,
  GossipConfig,
  GossipEvent,
  GossipMessage,
  GossipNode,
  MemberRecord,
  NackMsg,
  NodeId,
  NodeMeta,
  PingMsg,
  PingReqMsg,
  PushPullMember,
  PushPullRequest,
  PushPullState,
  Ready,
  Role,
  SuspectMsg,
  UserMsg,
} from './interface.js';
import { MAX_COMPOUND_MESSAGES, pushPullStateSchema } from './messages.js';
import { MemberTable, toRecord, type Member } from './members.js';
import { GossipMetrics } from './metrics.js';
import {
  pushPullIntervalFor,
  resolveOptions,
  retransmitLimit,
  suspicionConfirmationsWanted,
  suspicionMaxMs,
  suspicionMinMs,
  type GossipOptions,
} from './options.js';
import { BroadcastQueue } from './queue.js';
import { encodedSize, messageSize, packetSize } from './size.js';
import { Suspicion } from './suspicion.js';
import { TimerHeap, type Timer } from './timers.js';

interface Probe {
  target: Member;
  seq: number;
  /** When the probe started (core clock): its ack's round trip. */
  sentAt: number;
  /** Next direct retry (Infinity: none left). */
  retryAt: number;
  /** Period of further direct retries (0: a single early retry). */
  retryEvery: number;
  /** Start of the indirect round (Infinity: a direct-only probe). */
  indirectAt: number;
  endAt: number;
  indirectSent: boolean;
  expectedNacks: number;
  nacks: number;
  /** Set on a verification probe: the suspicion it may turn into a death. */
  suspicion: Suspicion | null;
  /** A verification probe's pending deadline (round-robin probes are driven by fireDue). */
  timer: Timer | null;
}

/** A ping-req we serve: our own ping to the target, whose ack we relay to the requester. */
interface Relay {
  origSeq: number;
  replyTo: Addr;
  nack: boolean;
  timer: Timer;
}

const memberKey = (id: NodeId): string => `m\u0000${id}`;
const userKey = (m: UserMsg): string => `u\u0000${m.origin}\u0000${m.epoch}\u0000${m.seq}`;

export class GossipCore implements GossipNode {
  readonly id: NodeId;
  readonly metrics = new GossipMetrics();
  /** Probe to ack on the core's clock, ms (direct or through helpers): the network and the peers' load as SWIM sees them. */
  readonly probeRttMs = new Histogram(MS_BUCKETS);
  readonly options: Readonly<GossipOptions>;

  private readonly rng: Rng;
  private readonly sizeOf: (m: GossipMessage) => number;
  private now: number;

  private selfAddr: Addr;
  private selfClusterAddr: Addr;
  private selfRole: Role;
  private selfMeta: NodeMeta;
  private selfInc: number;
  private leaving = false;
  private leaveDone = false;

  private readonly table: MemberTable;
  private readonly queue = new BroadcastQueue();
  private readonly timers = new TimerHeap();
  private readonly awareness: Awareness;
  private readonly dedup: Dedup;
  /** Random per process life: (origin, epoch, seq) identifies a user broadcast across restarts. */
  private readonly epoch: number;
  private userSeq = 0;
  private seq = 0;

  private probe: Probe | null = null;
  /** Verification probes in flight, by seq. */
  private readonly verifies = new Map<number, Probe>();
  private readonly relays = new Map<number, Relay>();
  private nextProbeAt: number;
  private nextGossipAt: number;
  private nextPushPullAt: number;
  private nextReconnectAt: number;
  /** After a stall, suspicions do not expire before this. */
  private graceUntil = -Infinity;

  private out: Ready = freshReady();

  constructor(cfg: GossipConfig) {
    this.options = resolveOptions(cfg.options);
    const o = this.options;
    const s = cfg.self;
    if (!s.id) throw new GossipError('BAD_REQUEST', 'self.id is empty');
    this.id = s.id;
    this.rng = cfg.rng;
    this.sizeOf = cfg.sizeOf ?? messageSize;
    this.now = cfg.nowMs;
    this.selfAddr = s.addr;
    this.selfClusterAddr = s.clusterAddr;
    this.selfRole = s.role;
    this.checkMeta(s.meta);
    this.selfMeta = s.meta;
    this.selfInc = s.incarnation ?? 1;
    this.table = new MemberTable(this.rng.fork());
    this.awareness = new Awareness(o.awarenessMaxMultiplier);
    this.dedup = new Dedup(o.userDedupWindow);
    this.epoch = this.rng.int(0x100000000);
    // Staggered first deadlines: members started together must not probe in lockstep.
    this.nextProbeAt = this.now + this.rng.int(o.probeIntervalMs);
    this.nextGossipAt = this.now + this.rng.int(o.gossipIntervalMs);
    this.nextPushPullAt = this.now + this.rng.int(o.pushPullIntervalMs);
    this.nextReconnectAt = this.now + o.reconnectIntervalMs + this.rng.int(o.reconnectIntervalMs);
    // Our own alive is the first news: whoever we reach learns about us.
    this.queueMembership(this.id, this.selfAlive());
  }

  // ---------------------------------------------------------------- clock

  tick(nowMs: number): void {
    if (!(nowMs >= this.now)) throw new GossipError('BAD_REQUEST', `clock went backwards: ${nowMs} < ${this.now}`);
    // Lateness is measured against the earliest deadline we asked to be
    // woken for, not the previous tick: a member slowed by its health
    // multiplier may rightly sleep 2 s between probes. (Everything due by
    // the previous tick was handled then, hence the clamp: a deadline that
    // became due only through a later receive, like a gossip round for news,
    // is "due" from that moment on at the earliest.)
    if (nowMs - Math.max(this.nextDeadline(), this.now) > this.options.stallThresholdMs) this.onStall(nowMs);
    this.now = nowMs;
    this.fireDue();
  }

  nextDeadline(): number {
    let d = this.timers.peek();
    if (this.probe) d = Math.min(d, nextPhase(this.probe));
    else if (!this.leaving) d = Math.min(d, this.nextProbeAt);
    // A gossip round is only due when there is fresh news to push (or a
    // leave to finish): an idle member is not woken every gossip interval,
    // and news that arrives after an idle spell goes out at once (rounds
    // stay at most one per interval).
    if (this.gossipWanted()) d = Math.min(d, this.nextGossipAt);
    if (!this.leaving) d = Math.min(d, this.nextPushPullAt, this.nextReconnectAt);
    if (this.alone()) d = Math.min(d, this.nextJoinRetryAt);
    return d;
  }

  private fireDue(): void {
    const now = this.now;
    for (let t = this.timers.popDue(now); t; t = this.timers.popDue(now)) t.fire();
    const p = this.probe;
    if (p && this.advanceProbe(p)) this.probeFailed(p);
    if (!this.probe && !this.leaving && now >= this.nextProbeAt) this.startProbe();
    if (now >= this.nextGossipAt && this.gossipWanted()) {
      this.nextGossipAt = next(this.nextGossipAt, this.options.gossipIntervalMs, now);
      // (A leaving member is no longer probed, so nothing would carry its
      // remaining retransmissions: gossipWanted keeps it pushing until done.)
      this.gossipRound();
    }
    if (!this.leaving && now >= this.nextPushPullAt) {
      this.nextPushPullAt = now + pushPullIntervalFor(this.options.pushPullIntervalMs, this.numActive());
      const peer = this.table.randomMembers(1, (m) => m.state === 'alive')[0];
      if (peer) this.requestPushPull(peer, false);
    }
    if (!this.leaving && now >= this.nextReconnectAt) {
      this.nextReconnectAt = now + this.options.reconnectIntervalMs;
      this.reconnect();
    }
    if (this.alone() && now >= this.nextJoinRetryAt) {
      this.nextJoinRetryAt = now + this.options.joinRetryMs;
      this.metrics.joinRetries++;
      this.pushPullSeeds();
    }
  }

  private onStall(nowMs: number): void {
    this.metrics.stalls++;
    this.awareness.apply(1);
    this.graceUntil = nowMs + this.options.stallGraceMs;
    if (this.probe) {
      this.probe = null;
      this.metrics.probesAbandoned++;
    }
    // Verifications in flight lost their deadlines too: re-arm their
    // suspicions to expire (and verify again) after the grace period.
    for (const v of this.verifies.values()) {
      this.metrics.probesAbandoned++;
      this.timers.cancel(v.timer);
      const m = v.target;
      const s = v.suspicion;
      if (s) s.verifying = false;
      if (s && m.suspicion === s) {
        this.timers.cancel(m.suspicionTimer);
        m.suspicionTimer = this.timers.add(this.graceUntil, () => this.suspicionExpired(m, s));
      }
    }
    this.verifies.clear();
    for (const r of this.relays.values()) this.timers.cancel(r.timer);
    this.relays.clear();
  }

  // ---------------------------------------------------------------- probing

  /**
   * A probe over one (scaled) probe interval. `directOnly`: no helpers, but a
   * direct ping every directRetryMs instead (used to verify suspicions that
   * others confirmed).
   */
  private newProbe(target: Member, suspicion: Suspicion | null, directOnly = false): Probe {
    const o = this.options;
    const retry = this.awareness.scale(o.directRetryMs);
    return {
      target,
      seq: ++this.seq,
      sentAt: this.now,
      retryAt: retry > 0 ? this.now + retry : Infinity,
      retryEvery: directOnly ? retry : 0,
      indirectAt: directOnly ? Infinity : this.now + this.awareness.scale(o.probeTimeoutMs),
      endAt: this.now + this.awareness.scale(o.probeIntervalMs),
      indirectSent: false,
      expectedNacks: 0,
      nacks: 0,
      suspicion,
      timer: null,
    };
  }

  private startProbe(): void {
    this.nextProbeAt = this.now + this.awareness.scale(this.options.probeIntervalMs);
    const target = this.table.nextProbeTarget((m) => this.reapable(m));
    if (!target) return;
    const p = this.newProbe(target, null);
    this.probe = p;
    this.metrics.probes++;
    this.sendPing(p);
  }

  private sendPing(p: Probe): void {
    const t = p.target;
    const ping: PingMsg = { type: 'ping', seq: p.seq, from: this.id, target: t.id };
    // Buddy system: a suspect hears of its suspicion on the very probe.
    if (t.state === 'suspect') this.send(t.addr, [ping, { type: 'suspect', id: t.id, inc: t.inc, from: this.id }]);
    else this.send(t.addr, [ping]);
  }

  /** Runs the probe's due phases (early retry, indirect round); true when its deadline passed unanswered. */
  private advanceProbe(p: Probe): boolean {
    const now = this.now;
    if (!p.indirectSent && now >= p.retryAt) {
      p.retryAt = p.retryEvery > 0 ? p.retryAt + p.retryEvery : Infinity;
      this.sendPing(p);
    }
    if (!p.indirectSent && now >= p.indirectAt) this.sendIndirect(p);
    return now >= p.endAt;
  }

  private sendIndirect(p: Probe): void {
    p.indirectSent = true;
    this.metrics.indirectProbes++;
    const t = p.target;
    const helpers = this.table.randomMembers(this.options.indirectChecks, (m) => m.state === 'alive' && m !== t);
    for (const h of helpers) {
      const req: PingReqMsg = { type: 'pingReq', seq: p.seq, from: this.id, target: t.id, targetAddr: t.addr, nack: true };
      this.send(h.addr, [req]);
    }
    p.expectedNacks = helpers.length;
    if (this.options.directRetry) this.sendPing(p);
  }

  private probeFailed(p: Probe): void {
    this.probe = null;
    this.metrics.probesFailed++;
    // Lifeguard: helpers that did not even nack suggest the trouble is ours.
    // Without helpers, any failed probe counts against us.
    const delta = p.expectedNacks > 0 ? p.expectedNacks - p.nacks : 1;
    if (delta > 0) this.awareness.apply(delta);
    const t = p.target;
    if (t.idx < 0 || (t.state !== 'alive' && t.state !== 'suspect')) return;
    if (t.state === 'alive') this.metrics.suspicionsRaised++;
    this.onSuspect({ type: 'suspect', id: t.id, inc: t.inc, from: this.id });
  }

  /**
   * Last-chance verification before declaring a member dead: a full probe
   * (ping carrying the suspicion, then ping-reqs and a direct retry). Gossip
   * is probabilistic: now and then one member misses a refutation that
   * everybody else got, and its own (long, unconfirmed) suspicion timer would
   * kill a live member in its view. The suspect answers this probe with its
   * current alive (see onPing), which clears the suspicion. The probe runs
   * during the last probe interval of the suspicion timeout, so a death is
   * still declared at the deadline: no added detection latency.
   *
   * A suspicion others confirmed is verified by direct pings every
   * directRetryMs over the probe interval (5 attempts: a live member misses
   * all of them ~3% of the time at 30% loss, ~0.03% at 10%). Nearly every
   * member's timer fires for a real death, so helpers here would cost ~10
   * more datagrams per member per death. An unconfirmed suspicion rests on
   * our evidence alone: full probes (direct and indirect), up to 3.
   */
  private startVerify(m: Member, s: Suspicion): void {
    if (s.verifying) return;
    s.verifying = true;
    const p = this.newProbe(m, s, s.confirmations >= s.k);
    this.verifies.set(p.seq, p);
    this.metrics.verifications++;
    this.sendPing(p);
    const step = (): void => {
      if (this.advanceProbe(p)) this.verifyFailed(p);
      else p.timer = this.timers.add(nextPhase(p), step);
    };
    p.timer = this.timers.add(nextPhase(p), step);
  }

  private verifyFailed(p: Probe): void {
    this.verifies.delete(p.seq);
    const m = p.target;
    const s = p.suspicion;
    if (!s || m.suspicion !== s || m.state !== 'suspect') return;
    s.verifying = false;
    // A suspicion nobody else confirmed rests on our evidence alone: probe
    // again (its timer was long anyway); a confirmed one dies at its deadline.
    s.verifyAttempts++;
    if (s.confirmations < s.k && s.verifyAttempts < this.options.verifyUnconfirmedProbes) {
      this.startVerify(m, s);
      return;
    }
    this.declareAt(m, s, s.deadline());
  }

  /** Declares `m` dead at `at` (now if past) unless its suspicion `s` ended meanwhile. */
  private declareAt(m: Member, s: Suspicion, at: number): void {
    if (at > this.now) {
      this.timers.cancel(m.suspicionTimer);
      m.suspicionTimer = this.timers.add(at, () => {
        if (m.suspicion === s && m.state === 'suspect') this.declareAt(m, s, Math.max(this.now, s.deadline()));
      });
      return;
    }
    this.metrics.deathsDeclared++;
    this.onDead({ type: 'dead', id: m.id, inc: m.inc, from: this.id }, true);
  }

  private verifyAnswered(p: Probe): void {
    this.verifies.delete(p.seq);
    this.timers.cancel(p.timer);
    if (p.suspicion) p.suspicion.verifying = false;
    const m = p.target;
    if (m.suspicion !== p.suspicion || m.state !== 'suspect') return; // the answer carried its refutation
    // It answered (through a helper, or while leaving) without refuting: it
    // is alive, so run the suspicion again from the start.
    this.metrics.verificationsAnswered++;
    this.cancelSuspicion(m);
    this.startSuspicion(m, this.id);
  }

  private onAck(a: AckMsg): void {
    const p = this.probe;
    if (p && a.seq === p.seq) {
      this.metrics.acksReceived++;
      this.probeRttMs.observe(this.now - p.sentAt);
      this.awareness.apply(-1);
      this.probe = null;
      return;
    }
    const v = this.verifies.get(a.seq);
    if (v) {
      this.metrics.acksReceived++;
      this.verifyAnswered(v);
      return;
    }
    const r = this.relays.get(a.seq);
    if (r) {
      this.relays.delete(a.seq);
      this.timers.cancel(r.timer);
      this.send(r.replyTo, [{ type: 'ack', seq: r.origSeq, from: this.id }]);
      return;
    }
    this.metrics.dropped.unknownSeq++;
  }

  private onNack(n: NackMsg): void {
    const p = this.probe;
    if (p && n.seq === p.seq) {
      this.metrics.nacksReceived++;
      p.nacks++;
      return;
    }
    if (this.verifies.has(n.seq)) {
      this.metrics.nacksReceived++;
      return;
    }
    this.metrics.dropped.unknownSeq++;
  }

  private onPing(ping: PingMsg, fromAddr: Addr, aboutSelf: boolean): void {
    if (ping.target !== this.id) {
      this.metrics.dropped.wrongTarget++;
      return;
    }
    const msgs: GossipMessage[] = [{ type: 'ack', seq: ping.seq, from: this.id }];
    // The prober holds a claim about us (buddy system): answer with our
    // current alive, whether we just refuted or the claim was already stale
    // (the prober missed our refutation), so it clears its suspicion now.
    if (aboutSelf && !this.leaving) msgs.push(this.selfAlive());
    // Reverse buddy: the prober believes itself alive; if we do not, say so now.
    const m = this.table.get(ping.from);
    if (m && m.state === 'suspect') msgs.push({ type: 'suspect', id: m.id, inc: m.inc, from: this.id });
    else if (m && m.state === 'dead') msgs.push({ type: 'dead', id: m.id, inc: m.inc, from: this.id });
    this.send(fromAddr, msgs);
  }

  private onPingReq(req: PingReqMsg, fromAddr: Addr): void {
    this.metrics.pingReqsServed++;
    const seq = ++this.seq;
    const relay: Relay = {
      origSeq: req.seq,
      replyTo: fromAddr,
      nack: req.nack,
      // memberlist waits the plain probe timeout (not scaled by our health):
      // the requester's indirect round must still be open when the nack lands.
      timer: this.timers.add(this.now + this.options.probeTimeoutMs, () => {
        this.relays.delete(seq);
        if (relay.nack) {
          this.metrics.nacksSent++;
          this.send(relay.replyTo, [{ type: 'nack', seq: relay.origSeq, from: this.id }]);
        }
      }),
    };
    this.relays.set(seq, relay);
    const ping: PingMsg = { type: 'ping', seq, from: this.id, target: req.target };
    const t = this.table.get(req.target);
    if (t && t.state === 'suspect') this.send(req.targetAddr, [ping, { type: 'suspect', id: t.id, inc: t.inc, from: this.id }]);
    else this.send(req.targetAddr, [ping]);
  }

  // ---------------------------------------------------------------- membership rules

  private onAlive(a: AliveMsg): void {
    if (a.id === this.id) {
      if (this.leaving) return;
      if (a.inc < this.selfInc || (a.inc === this.selfInc && this.isSelf(a))) {
        if (a.inc < this.selfInc) this.metrics.dropped.stale++;
        return;
      }
      // Someone holds a newer or different claim about us (our previous life,
      // or a stale address): reassert ourselves above it.
      this.refute(a.inc);
      return;
    }
    if (this.leaving) return;
    const m = this.table.get(a.id);
    if (!m) {
      const nm: Member = {
        id: a.id,
        addr: a.addr,
        clusterAddr: a.clusterAddr,
        role: a.role,
        meta: a.meta,
        state: 'alive',
        inc: a.inc,
        stateChangeMs: this.now,
        suspicion: null,
        suspicionTimer: null,
        idx: -1,
      };
      this.table.add(nm);
      this.queueMembership(a.id, a);
      this.emit({ type: 'joined', member: toRecord(nm) });
      return;
    }
    if (a.inc <= m.inc) {
      if (a.inc === m.inc && m.state === 'alive' && a.addr !== m.addr) this.metrics.dropped.conflict++;
      else this.metrics.dropped.stale++;
      return;
    }
    const prev = m.state;
    const changed = a.addr !== m.addr || a.clusterAddr !== m.clusterAddr || a.role !== m.role || !metaEqual(a.meta, m.meta);
    this.cancelSuspicion(m);
    m.addr = a.addr;
    m.clusterAddr = a.clusterAddr;
    m.role = a.role;
    m.meta = a.meta;
    m.inc = a.inc;
    this.table.setState(m, 'alive', this.now);
    this.queueMembership(m.id, a);
    if (prev === 'dead' || prev === 'left') this.emit({ type: 'joined', member: toRecord(m) });
    else if (changed) this.emit({ type: 'updated', member: toRecord(m) });
    else if (prev === 'suspect') {
      this.metrics.suspicionsRefuted++;
      this.emit({ type: 'alive', member: toRecord(m) });
    }
  }

  private onSuspect(s: SuspectMsg): void {
    if (s.id === this.id) {
      if (this.leaving) return;
      if (s.inc < this.selfInc) {
        this.metrics.dropped.stale++;
        return;
      }
      // Lifeguard: being suspected is evidence that we are the slow one.
      this.awareness.apply(1);
      this.refute(s.inc);
      return;
    }
    if (this.leaving) return;
    const m = this.table.get(s.id);
    if (!m) {
      this.metrics.dropped.unknownMember++;
      return;
    }
    if (s.inc < m.inc) {
      this.metrics.dropped.stale++;
      return;
    }
    if (m.state === 'suspect' && m.suspicion && s.inc === m.inc) {
      if (m.suspicion.confirm(s.from)) {
        this.metrics.confirmations++;
        this.scheduleSuspicion(m);
        // Re-gossip so the confirmation reaches other timers. Our own
        // confirmation (a failed probe) is new evidence and gets a full
        // dissemination; one we relay rides on the remaining transmissions
        // of the suspicion we are already spreading, instead of restarting a
        // cluster-wide wave per confirmation per member.
        if (s.from === this.id) this.queueMembership(m.id, s);
        else this.queue.replace(memberKey(m.id), s, this.sizeOf(s));
      } else this.metrics.dropped.stale++;
      return;
    }
    if (m.state === 'dead' || m.state === 'left') {
      this.metrics.dropped.stale++;
      return;
    }
    // alive (any incarnation ≤ s.inc), or suspect at a lower incarnation: a new suspicion.
    this.cancelSuspicion(m);
    m.inc = s.inc;
    this.table.setState(m, 'suspect', this.now);
    this.startSuspicion(m, s.from);
    this.queueMembership(m.id, s);
    this.emit({ type: 'suspect', member: toRecord(m), from: s.from });
  }

  private onDead(d: DeadMsg, local = false): void {
    if (d.id === this.id) {
      if (this.leaving) return;
      if (d.inc < this.selfInc) {
        this.metrics.dropped.stale++;
        return;
      }
      this.awareness.apply(1);
      this.refute(d.inc);
      return;
    }
    if (this.leaving) return;
    const m = this.table.get(d.id);
    if (!m) {
      this.metrics.dropped.unknownMember++;
      return;
    }
    const left = d.from === d.id;
    // At an equal incarnation a dead member can still be upgraded to left (it
    // announced its departure after someone declared it), nothing else.
    if (d.inc < m.inc || m.state === 'left' || (m.state === 'dead' && !left)) {
      this.metrics.dropped.stale++;
      return;
    }
    this.cancelSuspicion(m);
    m.inc = d.inc;
    this.table.setState(m, left ? 'left' : 'dead', this.now);
    this.queueMembership(m.id, d);
    if (left) this.emit({ type: 'left', member: toRecord(m) });
    else this.emit({ type: 'dead', member: toRecord(m), from: d.from, local });
  }

  private refute(accusedInc: number): void {
    this.selfInc = Math.max(this.selfInc, accusedInc) + 1;
    this.metrics.refutations++;
    this.queueMembership(this.id, this.selfAlive());
  }

  private startSuspicion(m: Member, from: NodeId): void {
    const o = this.options;
    const n = this.numActive();
    m.suspicion = new Suspicion(from, suspicionConfirmationsWanted(o, n), suspicionMinMs(o, n), suspicionMaxMs(o, n), this.now);
    this.metrics.suspicionsStarted++;
    this.scheduleSuspicion(m);
  }

  private scheduleSuspicion(m: Member): void {
    const s = m.suspicion;
    assert(s !== null, 'scheduling a suspicion that does not exist');
    this.timers.cancel(m.suspicionTimer);
    // With verification, the timer fires one probe interval early, so the
    // last-chance probe (startVerify) ends about when the timeout does.
    const o = this.options;
    const lead = o.verifyBeforeDeclare ? this.awareness.scale(o.probeIntervalMs) : 0;
    m.suspicionTimer = this.timers.add(Math.max(this.now, s.deadline() - lead), () => this.suspicionExpired(m, s));
  }

  private suspicionExpired(m: Member, s: Suspicion): void {
    if (m.suspicion !== s || m.state !== 'suspect') return;
    if (this.now < this.graceUntil) {
      m.suspicionTimer = this.timers.add(this.graceUntil, () => this.suspicionExpired(m, s));
      return;
    }
    if (this.options.verifyBeforeDeclare) this.startVerify(m, s);
    else this.declareAt(m, s, s.deadline());
  }

  private cancelSuspicion(m: Member): void {
    this.timers.cancel(m.suspicionTimer);
    m.suspicionTimer = null;
    m.suspicion = null;
  }

  private reapable(m: Member): boolean {
    const age = this.now - m.stateChangeMs;
    return (m.state === 'dead' && age > this.options.deadReapMs) || (m.state === 'left' && age > this.options.leftReapMs);
  }

  // ---------------------------------------------------------------- user broadcasts

  private onUser(u: UserMsg): void {
    if (u.origin === this.id || !this.dedup.accept(u.origin, u.epoch, u.seq)) {
      this.metrics.dropped.duplicateUser++;
      return;
    }
    this.metrics.userDelivered++;
    this.emit({ type: 'user', origin: u.origin, seq: u.seq, payload: u.payload });
    this.queueUser(u);
  }

  private queueUser(u: UserMsg): void {
    this.queue.enqueue(userKey(u), u, this.sizeOf(u), true);
    while (this.queue.userLength > this.options.maxUserQueue && this.queue.evictOneUser()) this.metrics.userBroadcastsEvicted++;
  }

  // ---------------------------------------------------------------- dissemination

  private queueMembership(id: NodeId, msg: AliveMsg | SuspectMsg | DeadMsg, onDone?: () => void): void {
    if (this.queue.enqueue(memberKey(id), msg, this.sizeOf(msg), false, onDone)) this.metrics.broadcastsInvalidated++;
  }

  private limit(): number {
    return retransmitLimit(this.options.retransmitMult, this.numActive());
  }

  /** Sends `primary` to `to` as one packet, topped up with queued broadcasts. */
  private send(to: Addr, primary: GossipMessage[]): void {
    let bytes = 0;
    for (const m of primary) bytes += this.sizeOf(m);
    const budget = this.options.maxPacketBytes - this.options.packetOverheadBytes - packetSize(bytes);
    const n0 = primary.length;
    const used = this.queue.take(budget, this.limit(), MAX_COMPOUND_MESSAGES - n0, primary);
    this.metrics.piggybacked += primary.length - n0;
    this.pushPacket(to, primary, packetSize(bytes + used));
  }

  private pushPacket(to: Addr, messages: GossipMessage[], bytes: number): void {
    this.metrics.packetsOut++;
    this.metrics.messagesOut += messages.length;
    this.metrics.bytesOut += bytes;
    if (this.out.packets === NONE) this.out.packets = [];
    this.out.packets.push({ to, messages, bytes });
  }

  /**
   * Pushes queued news to gossipNodes random members. Only while some message
   * is fresh (sent fewer than gossipRounds × gossipNodes times): the push
   * rounds give news its exponential head start; the rest of its
   * retransmissions ride on probe traffic, which flows anyway.
   */
  private gossipWanted(): boolean {
    if (this.queue.length === 0) return false;
    return this.leaving || this.queue.hasFresherThan(this.options.gossipRounds * this.options.gossipNodes);
  }

  private gossipRound(force = false): void {
    if (this.queue.length === 0) return;
    if (!force && !this.gossipWanted()) return;
    const now = this.now;
    const toTheDead = this.options.gossipToTheDeadMs;
    const targets = this.table.randomMembers(
      this.options.gossipNodes,
      (m) => m.state === 'alive' || m.state === 'suspect' || (m.state === 'dead' && now - m.stateChangeMs < toTheDead),
    );
    const budget = this.options.maxPacketBytes - this.options.packetOverheadBytes - packetSize(0);
    for (const t of targets) {
      if (this.queue.length === 0) break;
      if (t.state === 'dead') {
        // Gossip to the dead exists so a member declared dead by mistake
        // learns it: lead with the claim itself (it refutes, or answers
        // with the alive we missed).
        this.send(t.addr, [{ type: 'dead', id: t.id, inc: t.inc, from: this.id }]);
        continue;
      }
      const msgs: GossipMessage[] = [];
      const used = this.queue.take(budget, this.limit(), MAX_COMPOUND_MESSAGES, msgs);
      if (msgs.length === 0) break;
      this.metrics.piggybacked += msgs.length;
      this.pushPacket(t.addr, msgs, packetSize(used));
    }
  }

  // ---------------------------------------------------------------- push-pull

  private requestPushPull(peer: Member, join: boolean): void {
    this.metrics.pushPullsStarted++;
    this.pullsOut().push({ to: peer.addr, clusterAddr: peer.clusterAddr, id: peer.id, join, state: this.localState(join) });
  }

  /** Serf's reconnect: with probability dead/alive, try a push-pull with one dead member. */
  private reconnect(): void {
    const dead = this.table.dead;
    if (dead === 0) return;
    if (this.rng.next() > dead / this.numActive()) return;
    const peer = this.table.randomMembers(1, (m) => m.state === 'dead')[0];
    if (peer) this.requestPushPull(peer, false);
  }

  localState(join = false): PushPullState {
    const members: PushPullMember[] = [
      {
        id: this.id,
        addr: this.selfAddr,
        clusterAddr: this.selfClusterAddr,
        role: this.selfRole,
        meta: this.selfMeta,
        state: this.leaving ? 'left' : 'alive',
        inc: this.selfInc,
      },
    ];
    for (const m of this.table.values()) {
      members.push({ id: m.id, addr: m.addr, clusterAddr: m.clusterAddr, role: m.role, meta: m.meta, state: m.state, inc: m.inc });
    }
    return { type: 'pushPull', from: this.id, join, members };
  }

  mergeRemoteState(state: PushPullState): void {
    const err = validate(pushPullStateSchema, state);
    if (err !== null) throw new GossipError('INVALID_STATE', err);
    this.metrics.pushPullsMerged++;
    if (this.leaving) return;
    for (const r of state.members) {
      const m = r.id === this.id ? undefined : this.table.get(r.id);
      if (m && m.inc === r.inc && m.state === r.state) continue; // we agree
      switch (r.state) {
        case 'alive':
          this.onAlive({ type: 'alive', id: r.id, inc: r.inc, addr: r.addr, clusterAddr: r.clusterAddr, role: r.role, meta: r.meta });
          break;
        case 'suspect':
        case 'dead':
          // Prefer suspecting over declaring by hearsay: the member gets its
          // chance to refute (a partition's "dead" is often alive).
          this.onSuspect({ type: 'suspect', id: r.id, inc: r.inc, from: state.from });
          break;
        case 'left':
          this.onDead({ type: 'dead', id: r.id, inc: r.inc, from: r.id });
          break;
      }
    }
  }

  handlePushPull(remote: PushPullState): PushPullState {
    this.metrics.pushPullsServed++;
    // Merge first, answer after: the answer then carries our refutations
    // (e.g. we were dead on the other side of a healed partition).
    this.mergeRemoteState(remote);
    return this.localState(false);
  }

  // ---------------------------------------------------------------- API

  receive(fromAddr: Addr, packet: readonly GossipMessage[]): void {
    this.metrics.packetsIn++;
    this.metrics.messagesIn += packet.length;
    // Two passes: membership news first, so an ack we send in the second pass
    // already carries any refutation the news provoked (buddy system), and an
    // ack we receive is judged with the news that came with it.
    let aboutSelf = false;
    let probes = false;
    for (const msg of packet) {
      if (this.leaving && msg.type !== 'ping') {
        this.metrics.dropped.afterLeave++;
        continue;
      }
      switch (msg.type) {
        case 'alive':
          this.onAlive(msg);
          break;
        case 'suspect':
          if (msg.id === this.id) aboutSelf = true;
          this.onSuspect(msg);
          break;
        case 'dead':
          if (msg.id === this.id) aboutSelf = true;
          this.onDead(msg);
          break;
        case 'user':
          this.onUser(msg);
          break;
        default:
          probes = true;
      }
    }
    if (aboutSelf && !this.leaving && !packet.some((m) => m.type === 'ping')) {
      // The sender holds (or relays) a claim that we are suspect or dead: it
      // missed our refutation. Tell it directly, or it may keep us dead in
      // its view (it no longer probes us, and stale claims are otherwise
      // ignored). A ping gets the same answer on its ack (onPing).
      this.send(fromAddr, [this.selfAlive()]);
    }
    if (!probes) return;
    for (const msg of packet) {
      switch (msg.type) {
        case 'ping':
          this.onPing(msg, fromAddr, aboutSelf);
          break;
        case 'pingReq':
          if (!this.leaving) this.onPingReq(msg, fromAddr);
          break;
        case 'ack':
          if (!this.leaving) this.onAck(msg);
          break;
        case 'nack':
          if (!this.leaving) this.onNack(msg);
          break;
        default:
          break;
      }
    }
  }

  join(seeds: readonly Addr[]): void {
    if (this.leaving) throw new GossipError('LEFT', 'cannot join after leaving');
    this.joinSeeds = [...seeds];
    this.nextJoinRetryAt = this.now + this.options.joinRetryMs;
    this.pushPullSeeds();
  }

  /**
   * The seeds of the last join, tried again every joinRetryMs while this
   * member knows no live one: a join whose push-pulls all failed (a seed not
   * up yet, a connect timing out on a loaded host) would otherwise leave it
   * alone for good, as nothing else ever contacts a member nobody knows.
   * memberlist leaves this to its caller (Consul's retry_join); here the core
   * does it, so every user of join() gets it.
   */
  private joinSeeds: Addr[] = [];
  private nextJoinRetryAt = Infinity;

  /** Joined (seeds given) yet knowing no live member. */
  private alone(): boolean {
    return this.joinSeeds.length > 0 && this.table.active === 0 && !this.leaving;
  }

  private pushPullSeeds(): void {
    for (const seed of this.joinSeeds) {
      this.metrics.pushPullsStarted++;
      this.pullsOut().push({ to: seed, clusterAddr: seed, join: true, state: this.localState(true) });
    }
  }

  leave(): void {
    if (this.leaving) return;
    const d: DeadMsg = { type: 'dead', id: this.id, inc: this.selfInc, from: this.id };
    this.leaving = true;
    this.probe = null;
    for (const m of this.table.values()) this.cancelSuspicion(m);
    this.queueMembership(this.id, d, () => {
      this.leaveDone = true;
    });
    // Tell a few members right away instead of waiting for the next round.
    this.gossipRound(true);
  }

  leaveBroadcastDone(): boolean {
    return this.leaving && (this.leaveDone || this.table.active === 0);
  }

  broadcast(payload: Uint8Array): number {
    if (this.leaving) throw new GossipError('LEFT', 'cannot broadcast after leaving');
    if (payload.byteLength > this.options.maxUserPayloadBytes) {
      throw new GossipError('PAYLOAD_TOO_LARGE', `${payload.byteLength} bytes > ${this.options.maxUserPayloadBytes}`);
    }
    const u: UserMsg = { type: 'user', origin: this.id, epoch: this.epoch, seq: ++this.userSeq, payload };
    this.queueUser(u);
    return u.seq;
  }

  updateMeta(meta: NodeMeta): void {
    if (this.leaving) throw new GossipError('LEFT', 'cannot update metadata after leaving');
    this.checkMeta(meta);
    this.selfMeta = meta;
    this.selfInc++;
    this.queueMembership(this.id, this.selfAlive());
  }

  updateRole(role: Role): void {
    if (this.leaving) throw new GossipError('LEFT', 'cannot change role after leaving');
    if (role === this.selfRole) return;
    // Same versioning as metadata: a higher incarnation carries the new role,
    // so workers looking for managers in the member list see a promotion.
    this.selfRole = role;
    this.selfInc++;
    this.queueMembership(this.id, this.selfAlive());
  }

  restoreMembers(records: readonly MemberRecord[]): void {
    for (const r of records) {
      if (r.id === this.id || this.table.get(r.id)) continue;
      const state = r.state === 'suspect' ? 'alive' : r.state;
      const m: Member = {
        id: r.id,
        addr: r.addr,
        clusterAddr: r.clusterAddr,
        role: r.role,
        meta: r.meta,
        state,
        inc: r.incarnation,
        stateChangeMs: this.now,
        suspicion: null,
        suspicionTimer: null,
        idx: -1,
      };
      this.table.add(m);
      if (state === 'alive') this.emit({ type: 'joined', member: toRecord(m) });
    }
    // Now that we know the cluster's size, stagger the first push-pull over
    // its scaled interval (members restored together must not all sync at once).
    this.nextPushPullAt = this.now + this.rng.int(pushPullIntervalFor(this.options.pushPullIntervalMs, this.numActive()));
  }

  hasReady(): boolean {
    const o = this.out;
    return o.packets.length > 0 || o.events.length > 0 || o.pushPulls.length > 0;
  }

  ready(): Ready {
    const r = this.out;
    this.out = freshReady();
    return r;
  }

  members(): MemberRecord[] {
    const out: MemberRecord[] = [this.selfRecord()];
    for (const m of this.table.values()) out.push(toRecord(m));
    return out;
  }

  member(id: NodeId): MemberRecord | undefined {
    if (id === this.id) return this.selfRecord();
    const m = this.table.get(id);
    return m ? toRecord(m) : undefined;
  }

  numActive(): number {
    return this.table.active + (this.leaving ? 0 : 1);
  }

  healthScore(): number {
    return this.awareness.value;
  }

  incarnation(): number {
    return this.selfInc;
  }

  /** Broadcasts waiting in the queue (tests, metrics). */
  queuedBroadcasts(): number {
    return this.queue.length;
  }

  // ---------------------------------------------------------------- helpers

  private pullsOut(): PushPullRequest[] {
    if (this.out.pushPulls === NONE) this.out.pushPulls = [];
    return this.out.pushPulls;
  }

  private emit(e: GossipEvent): void {
    if (this.out.events === NONE) this.out.events = [];
    this.out.events.push(e);
  }

  private selfAlive(): AliveMsg {
    return {
      type: 'alive',
      id: this.id,
      inc: this.selfInc,
      addr: this.selfAddr,
      clusterAddr: this.selfClusterAddr,
      role: this.selfRole,
      meta: this.selfMeta,
    };
  }

  private selfRecord(): MemberRecord {
    return {
      id: this.id,
      addr: this.selfAddr,
      clusterAddr: this.selfClusterAddr,
      role: this.selfRole,
      meta: this.selfMeta,
      state: this.leaving ? 'left' : 'alive',
      incarnation: this.selfInc,
      stateChangeMs: this.now,
    };
  }

  private isSelf(a: AliveMsg): boolean {
    return a.addr === this.selfAddr && a.clusterAddr === this.selfClusterAddr && a.role === this.selfRole && metaEqual(a.meta, this.selfMeta);
  }

  private checkMeta(meta: NodeMeta): void {
    const size = encodedSize(meta);
    if (size > this.options.maxMetaBytes) throw new GossipError('META_TOO_LARGE', `meta encodes to ${size} bytes > ${this.options.maxMetaBytes}`);
  }
}

/**
 * Shared empty list for the parts of a Ready that stay empty (most of them):
 * a Ready is built per packet received, so this saves two allocations each.
 * Never mutated: the core swaps in a real array before the first push.
 */
const NONE: never[] = Object.freeze([]) as unknown as never[];

function freshReady(): Ready {
  return { packets: NONE, events: NONE, pushPulls: NONE };
}

/** When a probe next needs attention. */
function nextPhase(p: Probe): number {
  if (p.indirectSent) return p.endAt;
  return Math.min(p.retryAt, p.indirectAt, p.endAt);
}

/** The next firing of a periodic timer: on schedule, or from now if we fell more than a period behind. */
function next(prev: number, interval: number, now: number): number {
  const n = prev + interval;
  return n > now ? n : now + interval;
}

function metaEqual(a: NodeMeta, b: NodeMeta): boolean {
  if (a === b) return true;
  if (a.resources.nanoCpus !== b.resources.nanoCpus || a.resources.memoryBytes !== b.resources.memoryBytes) return false;
  const ak = Object.keys(a.labels);
  if (ak.length !== Object.keys(b.labels).length) return false;
  for (const k of ak) if (a.labels[k] !== b.labels[k]) return false;
  return true;
}

/** Creates a gossip core; the driver owns the clock and the sockets. */
export function createGossipNode(cfg: GossipConfig): GossipCore {
  return new GossipCore(cfg);
}
