import { ShoalError } from '../util/errors.js';
import { Histogram, MS_BUCKETS } from '../util/histogram.js';
import { retry } from '../util/retry.js';
import { randomBytes } from 'node:crypto';
import { Packr, Unpackr } from '../util/msgpack.js';
import { systemRng, type Rng } from '../util/rng.js';
import type { PeerTarget, Transport } from '../wire/interface.js';
import { PeerLink } from '../wire/peer-link.js';
import { RaftCore } from './core.js';
import { decodeConfChange } from './confchange.js';
import { RaftError, RaftErrorCode } from './errors.js';
import type { ConfChange, ConfState, Entry, Message, NodeId, Ready, RefusedProposals, SoftState } from './interface.js';
import type { RaftOptions } from './options.js';
import { decodeProposal, encodeProposal } from './proposal.js';
import { DedupTable, type DedupImage } from './dedup.js';
import { RaftStorage, type SyncMode } from './storage.js';
import { RaftWire } from './transport.js';
import { monotonicMs } from '../util/monotonic.js';
import { LeaderAuthority } from './authority.js';
import { componentLogger, type Logger } from '../util/log/interface.js';

/** What Raft replicates into. Deterministic: every manager applies the same entries in the same order. */
export interface StateMachine {
  /** Applies one committed command; the return value resolves the proposer's promise (on the proposing node). */
  apply(entry: { index: number; term: number; command: Uint8Array }): unknown;
  /**
   * A consistent image of the whole state at the last applied index. The
   * state must be captured synchronously, at the call; the encoding may
   * finish later (a Promise), so a large state is serialised in slices
   * across event-loop turns instead of stalling Raft.
   */
  snapshot(): Uint8Array | Promise<Uint8Array>;
  /** Replaces the whole state with a snapshot image. */
  restore(data: Uint8Array): void;
}

export interface RaftDriverOptions {
  id: NodeId;
  /** sqlite3 file holding the log, hard state and snapshots. */
  dataPath: string;
  transport: Transport;
  stateMachine: StateMachine;
  /** Where to reach each peer; conf changes carrying an address add to it. */
  peers?: Record<NodeId, PeerTarget>;
  /**
   * Founding configuration, used only when the node has no state at all.
   * Every founder must pass the same one. A node joining an existing
   * cluster passes nothing (it learns the configuration from the leader).
   */
  founding?: ConfState;
  /** One Raft tick. 100 ms per DESIGN.md (heartbeat 1 tick, election 10–20 ticks). */
  tickMs?: number;
  raft?: Partial<RaftOptions>;
  /** How long a proposal or read may wait before its promise rejects (outcome unknown). */
  requestTimeoutMs?: number;
  sync?: SyncMode;
  /** See StorageOptions.checkpointEveryMs. */
  checkpointEveryMs?: number;
  rng?: Rng;
  /** Records carry component=raft and term where it applies. */
  log?: Logger;
}

export const RaftDriverErrorCode = {
  /** Not applied in time; the outcome is unknown. */
  TIMEOUT: 'TIMEOUT',
  /** The leader changed while the proposal was pending; the outcome is unknown: retry (idempotently). */
  LEADER_CHANGED: 'LEADER_CHANGED',
  /** This node cannot write its log (disk full, I/O errors): nothing was proposed; try another manager. */
  STORAGE_FAILING: 'STORAGE_FAILING',
  STOPPED: 'STOPPED',
} as const;

/** A proposal or read the driver gave up on. For a proposal the outcome is unknown: it may still commit. */
export class RaftDriverError extends ShoalError<keyof typeof RaftDriverErrorCode> {
  override readonly name = 'RaftDriverError';
  readonly ns = 'raft-driver';
  constructor(code: keyof typeof RaftDriverErrorCode, message: string) {
    // Only STORAGE_FAILING is safe to repeat as is (nothing was proposed; another manager may
    // take it). After TIMEOUT or LEADER_CHANGED a write may still commit: a caller that knows
    // its request is idempotent (a read) says so to the retry helper itself.
    super(code, message, { status: 503, retryable: code === 'STORAGE_FAILING' });
  }
}

export interface DriverMetrics {
  readies: number;
  messagesSent: number;
  unreachable: number;
  proposals: number;
  proposalTimeouts: number;
  /** Proposals a leader refused after this node forwarded them (UNCOMMITTED_CAP, PROPOSAL_DROPPED). */
  proposalsRefused: number;
  reads: number;
  readTimeouts: number;
  applied: number;
  snapshotsTaken: number;
  /** Size of the newest snapshot this node took, bytes (a level, not a count). */
  lastSnapshotBytes: number;
  snapshotsRestored: number;
  /** Failed attempts to write the Raft log or hard state (each retried; the node does not lead meanwhile). */
  persistErrors: number;
  /** Failed snapshots: capturing or encoding the state machine, or saving the image (a save is retried). */
  snapshotErrors: number;
  /** Other failures while handling a Ready (a state machine that cannot restore, a listener that throws): logged, retried. */
  loopErrors: number;
  /** Incoming frames dropped by the driver before the core, by reason. */
  dropped: Record<string, number>;
}

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  /** performance.now() when the caller proposed: the commit latency ends at its apply (proposals only). */
  since?: number;
  /** The leader the proposal went to. */
  leader?: NodeId | null;
}

interface ReadWaiter extends Waiter<void> {
  index: number | null;
}

/** msgpack {o: origin, s: seq, a?: address} carried in a ConfChange's ctx. */
interface ConfTag {
  o: string;
  s: number;
  a?: PeerTarget;
}

/**
 * Messages that promise durability: an ack says "I have these entries", a
 * vote grant "I voted for you in this term", a vote request carries the
 * candidate's own vote for itself. They leave only after the persist.
 */
const MUST_FOLLOW_PERSIST = new Set<Message['type']>(['appendResp', 'snapshotResp', 'vote', 'voteResp']);

const tagPackr = new Packr({ useRecords: false });
const snapshotPackr = new Packr({ useRecords: false });
const snapshotUnpackr = new Unpackr({ useRecords: false });
const tagUnpackr = new Unpackr({ useRecords: false });

export interface RaftStatus {
  id: NodeId;
  role: SoftState['role'];
  leader: NodeId | null;
  term: number;
  commit: number;
  applied: number;
  lastIndex: number;
  conf: ConfState;
  recovering: boolean;
}

/** Zeroed driver counters (also the exporter's list of them). */
export function newDriverMetrics(): DriverMetrics {
  return {
    readies: 0,
    messagesSent: 0,
    unreachable: 0,
    proposals: 0,
    proposalTimeouts: 0,
    proposalsRefused: 0,
    reads: 0,
    readTimeouts: 0,
    applied: 0,
    snapshotsTaken: 0,
    lastSnapshotBytes: 0,
    snapshotsRestored: 0,
    persistErrors: 0,
    snapshotErrors: 0,
    loopErrors: 0,
    dropped: Object.create(null) as Record<string, number>,
  };
}

/**
 * The I/O half of Raft: drives a pure RaftCore with timers, persists every
 * Ready to sqlite before sending anything that depends on it, applies
 * committed entries to the state machine, and resolves proposals and reads
 * only once they are applied — never before a quorum has made them durable.
 */
export class RaftDriver {
  readonly id: NodeId;
  readonly metrics: DriverMetrics = newDriverMetrics();
  /** Proposal to apply on this node, ms: what a write through this manager waits for a quorum's fsyncs. */
  readonly commitMs = new Histogram(MS_BUCKETS);
  private core!: RaftCore;
  private storage!: RaftStorage;
  private readonly opts: Required<Pick<RaftDriverOptions, 'tickMs' | 'requestTimeoutMs'>> & RaftDriverOptions;
  private readonly logger: Logger;
  private readonly addresses = new Map<NodeId, PeerTarget>();
  private readonly links = new Map<NodeId, PeerLink>();
  /** This boot's identity in proposal tags, so entries replayed from an earlier life never resolve a new promise. */
  private readonly origin: string;
  private seq = 0;
  private readonly proposals = new Map<number, Waiter<unknown>>();
  private readonly reads = new Map<string, ReadWaiter>();
  private readonly leaderListeners: ((leader: NodeId | null, role: SoftState['role']) => void)[] = [];
  private tickTimer: NodeJS.Timeout | null = null;
  /** Until when this leader surely leads (authorityUntil), from its ticks' times. */
  private authority!: LeaderAuthority;
  private offConnection: (() => void) | null = null;
  /** Set while the connection to the leader is gone: see suspectLeader(). */
  private fastTicks: NodeJS.Timeout | null = null;
  private running = false;
  private scheduled = false;
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  private applied = 0;
  private lastIndex = 0;
  private snapshotIndex = 0;
  private recoveryUntil = 0;
  private soft: SoftState = { leader: null, role: 'follower' };
  /** Replicated with the state machine: which proposals were applied already. */
  private dedup = new DedupTable();
  private snapshotInFlight = false;
  /** Set while persists fail (disk full, I/O errors): the node then reports itself a follower. */
  private storageFailing = false;
  /** Set while handling a Ready fails for another reason: the node then reports itself a follower too. */
  private loopFailing = false;
  private readySnapshot: { index: number; data: Uint8Array } | null = null;

  private constructor(opts: RaftDriverOptions) {
    this.id = opts.id;
    this.opts = { tickMs: 100, requestTimeoutMs: 10_000, ...opts };
    this.logger = componentLogger(opts.log, 'raft');
    this.origin = `${opts.id}/${randomBytes(4).toString('hex')}`;
    for (const [id, t] of Object.entries(opts.peers ?? {})) this.addresses.set(id, t);
  }

  /** Opens storage, restores the state machine from the latest snapshot, and starts ticking. */
  static async start(opts: RaftDriverOptions): Promise<RaftDriver> {
    const d = new RaftDriver(opts);
    await d.boot();
    return d;
  }

  private async boot(): Promise<void> {
    this.storage = await RaftStorage.open(this.opts.dataPath, {
      ...(this.opts.sync ? { sync: this.opts.sync } : {}),
      ...(this.opts.checkpointEveryMs !== undefined ? { checkpointEveryMs: this.opts.checkpointEveryMs } : {}),
    });
    const { boot, recoveryUntil, notes } = await this.storage.load(this.opts.founding);
    for (const n of notes) this.logger.info(n);
    if (boot.snapshot) {
      this.restore(boot.snapshot.data);
      this.snapshotIndex = boot.snapshot.meta.index;
    }
    this.applied = boot.applied;
    this.lastIndex = boot.entries.length > 0 ? boot.entries[boot.entries.length - 1]!.index : this.snapshotIndex;
    this.recoveryUntil = recoveryUntil;
    this.core = new RaftCore({
      id: this.id,
      rng: this.opts.rng ?? systemRng(),
      boot,
      ...(this.opts.raft ? { options: this.opts.raft } : {}),
    });
    this.authority = new LeaderAuthority(this.core, this.opts.tickMs);
    this.opts.transport.onMessage(RaftWire, (msg, conn) => this.receive(msg, conn.peer.nodeId));
    this.offConnection = this.opts.transport.onConnection((conn) => {
      void conn.closed.then(() => {
        if (conn.peer.nodeId === this.soft.leader) this.suspectLeader();
      });
    });
    this.tickTimer = setInterval(() => this.tick(), this.opts.tickMs);
    this.schedule();
  }

  // ------------------------------------------------------------------ API

  /**
   * Replicates `command` and resolves with the state machine's result once
   * it is committed and applied here. Rejects with RaftError (NOT_LEADER
   * when no leader is known; UNCOMMITTED_CAP or PROPOSAL_DROPPED, also when
   * the leader a follower forwarded it to refused it: then it was certainly
   * not appended) or RaftDriverError TIMEOUT (outcome unknown: it may still
   * commit).
   */
  propose(command: Uint8Array, timeoutMs = this.opts.requestTimeoutMs): Promise<unknown> {
    if (this.stopped) return Promise.reject(new RaftDriverError('STOPPED', 'raft node stopped'));
    if (this.storageFailing) return Promise.reject(new RaftDriverError('STORAGE_FAILING', 'this manager cannot write its Raft log (disk full or failing); try another manager'));
    const seq = ++this.seq;
    try {
      const data = encodeProposal(this.origin, seq, command);
      // The (origin, seq) header doubles as the proposal's ref: a leader
      // that refuses it forwarded sends back only that (see onRefused).
      this.core.propose(data, proposalRef(data));
    } catch (err) {
      return Promise.reject(err as Error);
    }
    this.metrics.proposals++;
    this.schedule();
    return this.wait(
      this.proposals,
      seq,
      timeoutMs,
      () => {
        this.metrics.proposalTimeouts++;
        return `proposal not applied within ${timeoutMs} ms (outcome unknown)`;
      },
      this.core.softState().leader,
    );
  }

  /**
   * A linearizable read barrier (ReadIndex): resolves once this node's state
   * machine reflects every write committed before the call. Read the state
   * machine right after it resolves.
   */
  readBarrier(timeoutMs = this.opts.requestTimeoutMs): Promise<void> {
    if (this.stopped) return Promise.reject(new RaftDriverError('STOPPED', 'raft node stopped'));
    const ctx = randomBytes(12);
    const key = ctx.toString('hex');
    try {
      this.core.readIndex(ctx);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    this.metrics.reads++;
    this.schedule();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(key);
        this.metrics.readTimeouts++;
        reject(new RaftDriverError('TIMEOUT', `read barrier not confirmed within ${timeoutMs} ms`));
      }, timeoutMs);
      this.reads.set(key, { resolve, reject, timer, index: null });
    });
  }

  addVoter(node: NodeId, address?: PeerTarget, timeoutMs?: number): Promise<void> {
    return this.confChange({ type: 'addVoter', node }, address, timeoutMs);
  }

  addLearner(node: NodeId, address?: PeerTarget, timeoutMs?: number): Promise<void> {
    return this.confChange({ type: 'addLearner', node }, address, timeoutMs);
  }

  removeNode(node: NodeId, timeoutMs?: number): Promise<void> {
    return this.confChange({ type: 'removeNode', node }, undefined, timeoutMs);
  }

  /** Hands leadership to `to`; resolves when this node sees `to` lead. */
  async transferLeadership(to: NodeId, timeoutMs = this.opts.requestTimeoutMs): Promise<void> {
    this.core.transferLeadership(to);
    this.schedule();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new RaftDriverError('TIMEOUT', `leadership did not move to ${to} within ${timeoutMs} ms`));
      }, timeoutMs);
      const fn = (leader: NodeId | null) => {
        if (leader === to) {
          clearTimeout(timer);
          off();
          resolve();
        }
      };
      const off = () => {
        const i = this.leaderListeners.indexOf(fn);
        if (i >= 0) this.leaderListeners.splice(i, 1);
      };
      this.leaderListeners.push(fn);
    });
  }

  /** Called on every leader or role change seen by this node. */
  onLeaderChange(fn: (leader: NodeId | null, role: SoftState['role']) => void): void {
    this.leaderListeners.push(fn);
  }

  setPeerAddress(node: NodeId, target: PeerTarget): void {
    this.addresses.set(node, target);
    const old = this.links.get(node);
    if (old && old.target !== target) {
      old.close('address changed');
      this.links.delete(node);
    }
  }

  status(): RaftStatus {
    const hs = this.core.hardState();
    return {
      id: this.id,
      role: this.soft.role,
      leader: this.soft.leader,
      term: hs.term,
      commit: hs.commit,
      applied: this.applied,
      lastIndex: this.lastIndex,
      conf: this.core.confState(),
      recovering: this.recoveryUntil > 0,
    };
  }

  get isLeader(): boolean {
    return this.soft.role === 'leader';
  }

  /** False while writes to the Raft log fail (the node stalls and does not lead). */
  get storageHealthy(): boolean {
    return !this.storageFailing;
  }

  /** The pure core's counters (elections, leader changes, drops by reason). */
  get coreMetrics(): RaftCore['metrics'] {
    return this.core.metrics;
  }

  /** The storage's fsync histogram (see RaftStorage.persistMs). */
  get persistMs(): RaftStorage['persistMs'] {
    return this.storage.persistMs;
  }

  get storageMetrics(): RaftStorage['metrics'] {
    return this.storage.metrics;
  }

  /** Stops timers and links, fails pending requests, waits for an in-flight persist, closes storage. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.stopSuspecting();
    this.opts.transport.off(RaftWire);
    this.offConnection?.();
    for (const l of this.links.values()) l.close('raft node stopping');
    this.links.clear();
    const err = new RaftDriverError('STOPPED', 'raft node stopped');
    for (const w of this.proposals.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.proposals.clear();
    for (const w of this.reads.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.reads.clear();
    await this.loopDone;
    await this.storage.close();
  }

  // ------------------------------------------------------------- internals

  private confChange(change: ConfChange, address: PeerTarget | undefined, timeoutMs = this.opts.requestTimeoutMs): Promise<void> {
    if (this.stopped) return Promise.reject(new RaftDriverError('STOPPED', 'raft node stopped'));
    const seq = ++this.seq;
    const tag: ConfTag = { o: this.origin, s: seq, ...(address !== undefined ? { a: address } : {}) };
    if (address !== undefined) this.setPeerAddress(change.node, address);
    try {
      this.core.proposeConfChange({ ...change, ctx: tagPackr.pack(tag) });
    } catch (err) {
      return Promise.reject(err as Error);
    }
    this.schedule();
    return this.wait(this.proposals, seq, timeoutMs, () => `configuration change ${change.type} ${change.node} not applied within ${timeoutMs} ms`).then(
      () => undefined,
    );
  }

  private wait<T>(map: Map<number, Waiter<T>>, key: number, timeoutMs: number, why: () => string, leader?: NodeId | null): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        map.delete(key);
        reject(new RaftDriverError('TIMEOUT', why()));
      }, timeoutMs);
      map.set(key, { resolve, reject, timer, since: performance.now(), ...(leader !== undefined ? { leader } : {}) });
    });
  }

  private drop(reason: string): void {
    this.metrics.dropped[reason] = (this.metrics.dropped[reason] ?? 0) + 1;
  }

  private receive(msg: Message, sender: NodeId): void {
    if (this.stopped) return;
    if (msg.to !== this.id) return this.drop('wrong-destination');
    // The connection's node id is the one its certificate proved (on mTLS;
    // only claimed on a plain transport): a frame naming another sender is
    // forged or misrouted.
    if (msg.from !== sender) return this.drop('sender-mismatch');
    // Only members speak Raft here: a removed manager, or any node not in the
    // configuration, is not stepped. A node whose log holds no configuration
    // yet (a learner that just joined) cannot tell, and hears the leader.
    const conf = this.core.confState();
    if (conf.voters.length > 0 && !conf.voters.includes(sender) && !conf.learners.includes(sender)) return this.drop('not-a-member');
    if (msg.type === 'vote' && this.recoveryUntil > 0) return this.drop('recovering-no-vote');
    // The leader is alive after all: back to the normal clock.
    if (this.fastTicks && msg.from === this.soft.leader && msg.term >= this.core.hardState().term) this.stopSuspecting();
    this.core.step(msg);
    this.schedule();
  }

  /**
   * The connection to the leader closed. When a leader process dies its
   * kernel closes every TCP connection at once, so this is usually the first
   * sign of a crash: the follower runs its election clock ten times faster
   * (its election timeout of 1–2 s elapses in 100–200 ms) until the leader
   * is heard from again or a new leader is known. This is safe because it
   * only changes *when* a follower starts a PreVote: a peer that still hears
   * the leader refuses it (leader lease), so a live leader is not deposed by
   * a dropped connection. A machine crash or a partition closes nothing and
   * is still detected by the ordinary election timeout.
   */
  private suspectLeader(): void {
    if (this.stopped || this.fastTicks || this.soft.role === 'leader') return;
    const suspected = this.soft.leader;
    this.logger.info({ term: this.core.hardState().term, leader: suspected }, `connection to leader ${suspected} lost: election clock x10`);
    const electionTicksMax = this.opts.raft?.electionTicksMax ?? 20;
    let n = 0;
    this.fastTicks = setInterval(() => {
      // Keep the fast clock through pre-candidacy and candidacy (no leader
      // known): the peers' leader leases must run out on the same clock, or
      // each refuses the other's pre-vote for a whole normal lease. Stop once
      // any leader is known again, or after a bounded number of fast ticks.
      const newLeader = this.soft.leader !== null && this.soft.leader !== suspected;
      if (this.stopped || newLeader || this.soft.role === 'leader' || ++n > electionTicksMax * 4) return this.stopSuspecting();
      this.tick();
    }, Math.max(1, Math.floor(this.opts.tickMs / 10)));
  }

  private stopSuspecting(): void {
    if (this.fastTicks) clearInterval(this.fastTicks);
    this.fastTicks = null;
  }

  private tick(): void {
    if (this.stopped) return;
    // A node recovering a cut log must not campaign (see storage.ts); as a
    // follower its ticks only drive the election timer, so it skips them.
    if (this.recoveryUntil > 0 && this.soft.role !== 'leader') return;
    this.core.tick();
    this.authority.ticked(monotonicMs());
    this.schedule();
  }

  /**
   * Leader only: until when (monotonic ms) this leader surely leads — a
   * quorum acknowledged a heartbeat we sent at time S, and none of those
   * followers votes for anyone else within the minimum election timeout of
   * hearing us (CheckQuorum), so no other leader exists before S + that.
   * -Infinity when not leading or nothing is acknowledged yet. A single-voter
   * cluster leads until its configuration changes.
   */
  authorityUntil(): number {
    return this.authority.until();
  }

  private schedule(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      // loop() handles its own failures; this catch is the last guard, so that
      // nothing the loop does can end the process with an unhandled rejection.
      if (!this.running) this.loopDone = this.loop().catch((err: unknown) => this.onLoopFailure(err));
    });
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (!this.stopped && this.core.hasReady()) {
        const rd = this.core.ready();
        await this.handleUntilDone(rd);
        if (this.stopped) return;
        this.core.advance(rd);
        this.metrics.readies++;
        // The core counts an entry applied only once advance() is called: snapshot after.
        this.maybeSnapshot();
        await this.compactToReadySnapshot();
      }
      await this.compactToReadySnapshot();
    } finally {
      this.running = false;
    }
    if (!this.stopped && this.core.hasReady()) this.schedule();
  }

  /**
   * Handles a Ready until it is done. Storage failures are retried inside
   * handle() (persist); anything else that fails (a state machine that
   * cannot restore a snapshot, a listener that throws) is logged, counted,
   * and the same Ready is handled again after a back-off: every step of
   * handle() may be repeated (applies skip what is applied, Raft tolerates
   * duplicate messages, the persist is the same transaction). Meanwhile the
   * node does not lead. Returns early only when the driver stops.
   */
  private handleUntilDone(rd: Ready): Promise<void> {
    return this.untilDone('handling a raft Ready', () => this.handle(rd), 'loopFailing', () => this.metrics.loopErrors++);
  }

  /**
   * The loop failed outside a Ready's handling (a bug in the core, most
   * likely). The process stays up: log it, count it, stop leading, and try
   * the loop again later.
   */
  private onLoopFailure(err: unknown): void {
    this.running = false;
    if (this.stopped) return;
    this.metrics.loopErrors++;
    this.logger.error(`raft loop failed (${describe(err)}); running it again in 1000 ms`);
    // Not leading until a Ready is handled again (handleUntilDone clears it).
    this.loopFailing = true;
    if (this.soft.role === 'leader') this.onSoftState({ leader: null, role: 'follower' });
    const t = setTimeout(() => this.schedule(), 1_000);
    t.unref?.();
  }

  /**
   * One Ready, in an order that never acknowledges anything before it is
   * durable, yet overlaps the fsync with the network:
   * 1. messages that acknowledge nothing go out at once — notably the
   *    leader's appends, which followers persist while the leader does
   *    (Raft thesis §10.2.1). This is safe because the core counts the
   *    leader's own copy toward commit only once storage reports it stable
   *    (advance), never at append time;
   * 2. committed entries are applied: they are durable on a quorum already;
   * 3. the Ready is persisted (one fsynced transaction);
   * 4. only then acknowledgements (appendResp, snapshotResp), votes and vote
   *    requests are sent: each promises something that must survive a crash.
   * A received snapshot is the exception: it is persisted and restored
   * before anything is applied on top of it.
   */
  private async handle(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState);
    for (const r of rd.refused) this.onRefused(r);
    if (rd.snapshot) {
      await this.persist(rd);
      if (this.stopped) return;
      this.restore(rd.snapshot.data);
      this.applied = this.snapshotIndex = rd.snapshot.meta.index;
      this.lastIndex = Math.max(this.lastIndex, rd.snapshot.meta.index);
      this.metrics.snapshotsRestored++;
    }
    const late: Message[] = [];
    for (const m of rd.messages) {
      if (MUST_FOLLOW_PERSIST.has(m.type)) late.push(m);
      else this.send(m);
    }
    for (const e of rd.committed) this.apply(e);
    for (const rs of rd.readStates) {
      const w = this.reads.get(Buffer.from(rs.ctx).toString('hex'));
      if (w) w.index = rs.index;
    }
    this.resolveReads();
    if (!rd.snapshot) await this.persist(rd);
    if (this.stopped) return;
    if (rd.entries.length > 0) this.lastIndex = rd.entries[rd.entries.length - 1]!.index;
    for (const m of late.length > 1 ? coalesceAcks(late) : late) this.send(m);
    if (this.recoveryUntil > 0 && this.lastIndex >= this.recoveryUntil) {
      await this.durably('clearing the recovery mark', () => this.storage.clearRecovery(), () => this.metrics.persistErrors++);
      if (this.stopped) return;
      this.recoveryUntil = 0;
      this.logger.info(`log caught up past the cut: voting again`);
    }
  }

  /**
   * Persists a Ready. If the disk fails (full, I/O error) nothing is sent or
   * acknowledged: the node retries with back-off and simply falls silent
   * meanwhile, which Raft treats as a slow follower. It never acks on a
   * failed write.
   */
  private async persist(rd: Ready): Promise<void> {
    await this.durably('persisting raft state', () => this.storage.persist(rd), () => this.metrics.persistErrors++);
  }

  /** Runs a storage write until it works (untilDone, marking the storage failing meanwhile). */
  private durably(what: string, write: () => Promise<void>, count: () => void): Promise<void> {
    return this.untilDone(what, write, 'storageFailing', count);
  }

  /**
   * Runs `work` until it succeeds, with back-off. While it fails, `flag` is
   * set and the node stops leading: a node that cannot write its log (or
   * handle its Readys) has its heartbeats stuck behind that work, so the
   * others elect a new leader; the listeners (dispatcher, leader loops) hear
   * it at once rather than keep agent sessions and act on a view nobody
   * follows. Acknowledging without the work is never an option. Returns
   * early (without it) only when the driver stops.
   */
  private async untilDone(what: string, work: () => Promise<void>, flag: 'storageFailing' | 'loopFailing', count: () => void): Promise<void> {
    try {
      await retry(work, {
        what,
        deadlineMs: Infinity,
        retryable: () => true,
        backoff: { initialMs: 50, maxMs: 2_000, jitter: 0.2 },
        stopped: () => this.stopped,
        onRetry: (err, _attempt, delay) => {
          count();
          this.logger.error(`${what} failed (${describe(err)}); retrying in ${delay} ms`);
          if (!this[flag]) {
            this[flag] = true;
            if (this.soft.role === 'leader') this.onSoftState({ leader: null, role: 'follower' });
          }
        },
      });
    } catch (err) {
      if (this.stopped) return;
      throw err;
    }
    if (this[flag]) {
      this[flag] = false;
      this.logger.warn(`${what}: works again`);
      // Whatever the core became meanwhile (a follower, most likely), say so.
      this.onSoftState(this.core.softState());
    }
  }

  private onSoftState(s: SoftState): void {
    // While storage (or the loop) fails this node does not lead, whatever the core says.
    if ((this.storageFailing || this.loopFailing) && s.role === 'leader') s = { leader: null, role: 'follower' };
    const changed = s.leader !== this.soft.leader || s.role !== this.soft.role;
    if (s.leader !== this.soft.leader) {
      // A proposal handed to a leader that is gone may have been lost (it
      // sat in a dead process's memory) or may still commit. Tell the caller
      // now rather than at the timeout, as etcd does, so it can retry with
      // the new leader.
      for (const [seq, w] of this.proposals) {
        if (w.leader === undefined || w.leader === s.leader) continue;
        this.proposals.delete(seq);
        clearTimeout(w.timer);
        w.reject(new RaftDriverError('LEADER_CHANGED', `leader changed from ${w.leader} to ${s.leader ?? 'none'} while the proposal was pending (outcome unknown)`));
      }
      // A read waiting for an index from a leader that is gone never gets
      // one; reads are safe to retry, so say so now.
      for (const [key, w] of this.reads) {
        if (w.index !== null) continue;
        this.reads.delete(key);
        clearTimeout(w.timer);
        w.reject(new RaftDriverError('LEADER_CHANGED', `leader changed to ${s.leader ?? 'none'} before the read was confirmed`));
      }
    }
    this.soft = s;
    if (changed) {
      this.logger.info({ term: this.core.hardState().term, role: s.role, leader: s.leader }, `${s.role}${s.leader ? `, leader ${s.leader}` : ', no leader'} (term ${this.core.hardState().term})`);
      for (const fn of [...this.leaderListeners]) {
        try {
          fn(s.leader, s.role);
        } catch (err) {
          // A listener's failure is its own: the others still hear, and Raft goes on.
          this.metrics.loopErrors++;
          this.logger.error(`a leader-change listener failed: ${describe(err)}`);
        }
      }
    }
  }

  private send(m: Message): void {
    let link = this.links.get(m.to);
    if (!link) {
      const target = this.addresses.get(m.to);
      if (target === undefined) {
        this.metrics.unreachable++;
        this.core.reportUnreachable(m.to);
        return;
      }
      link = new PeerLink(this.opts.transport, target, { expectNodeId: m.to, connectTimeoutMs: 1_000, backoff: { maxMs: 1_000 } });
      this.links.set(m.to, link);
    }
    if (link.send(RaftWire, m)) this.metrics.messagesSent++;
    else if (m.type === 'propose') {
      // A forwarded proposal has no retransmission of its own: rather than
      // lose it to a link that is still (re)connecting — right after a
      // restart or a leader change — send it once the link is up. The
      // dedup table makes a late or repeated delivery harmless.
      const l = link;
      void l.waitConnected(2_000).then(
        () => l.send(RaftWire, m),
        () => this.metrics.unreachable++,
      );
    } else {
      this.metrics.unreachable++;
      this.core.reportUnreachable(m.to);
    }
  }

  private apply(e: Entry): void {
    if (e.index <= this.applied) return;
    this.applied = e.index;
    this.metrics.applied++;
    if (e.type === 'normal') {
      const p = decodeProposal(e.data);
      if (!p) return this.drop('undecodable-entry');
      if (!this.dedup.admit(p.origin, p.seq, e.index)) return this.drop('duplicate-proposal');
      let result: unknown;
      try {
        result = this.opts.stateMachine.apply({ index: e.index, term: e.term, command: p.command });
      } catch (err) {
        // The state machine must be deterministic, so every node fails alike;
        // the proposer learns why.
        result = err;
      }
      if (p.origin === this.origin) this.settle(p.seq, result);
    } else if (e.type === 'conf') {
      const cc = decodeConfChange(e.data);
      if (!cc) return;
      const tag = cc.ctx ? decodeTag(cc.ctx) : null;
      if (tag?.a !== undefined && cc.type !== 'removeNode' && cc.node !== this.id) this.setPeerAddress(cc.node, tag.a);
      if (cc.type === 'removeNode') {
        this.links.get(cc.node)?.close('removed from the cluster');
        this.links.delete(cc.node);
      }
      if (tag && tag.o === this.origin) this.settle(tag.s, undefined);
    }
  }

  /**
   * A leader refused proposals of ours without appending them (cap reached,
   * transfer under way): fail exactly those, with the leader's reason. Refs
   * from an earlier life of this node carry another origin and match nothing.
   */
  private onRefused(r: RefusedProposals): void {
    for (const ref of r.refs) {
      const p = decodeProposal(ref);
      if (p === null || p.origin !== this.origin) continue;
      const w = this.proposals.get(p.seq);
      if (!w) continue;
      this.proposals.delete(p.seq);
      clearTimeout(w.timer);
      this.metrics.proposalsRefused++;
      const by = r.leader === this.id ? 'this node, leader now,' : `leader ${r.leader}`;
      w.reject(new RaftError(r.code, `${by} refused the proposal: ${r.reason}`, r.leader));
    }
  }

  private settle(seq: number, result: unknown): void {
    const w = this.proposals.get(seq);
    if (!w) return;
    this.proposals.delete(seq);
    clearTimeout(w.timer);
    if (result instanceof Error) w.reject(result);
    else {
      if (w.since !== undefined) this.commitMs.observe(performance.now() - w.since);
      w.resolve(result);
    }
  }

  private resolveReads(): void {
    for (const [key, w] of this.reads) {
      if (w.index !== null && w.index <= this.applied) {
        this.reads.delete(key);
        clearTimeout(w.timer);
        w.resolve();
      }
    }
  }

  /**
   * Every snapshotEveryEntries applied entries: capture the state machine
   * (and the dedup table) at the applied index now, let it encode in the
   * background, and compact once it is ready — between two Readys, from the
   * loop, so the core is never compacted under an in-flight Ready.
   */
  private maybeSnapshot(): void {
    const every = this.opts.raft?.snapshotEveryEntries ?? 10_000;
    if (this.snapshotInFlight || this.applied - this.snapshotIndex < every) return;
    this.snapshotInFlight = true;
    const index = this.applied;
    const dedup = this.dedup.image();
    let sm: Uint8Array | Promise<Uint8Array>;
    try {
      sm = this.opts.stateMachine.snapshot();
    } catch (err) {
      this.snapshotInFlight = false;
      this.metrics.snapshotErrors++;
      this.logger.error(`snapshot at ${index} failed: ${describe(err)}`);
      return;
    }
    void Promise.resolve(sm).then(
      (smData) => {
        this.readySnapshot = { index, data: snapshotPackr.pack({ v: 1, dedup, sm: smData }) as Uint8Array };
        // The loop compacts between Readys; wake it if it is idle.
        this.schedule();
      },
      (err: unknown) => {
        this.snapshotInFlight = false;
        this.metrics.snapshotErrors++;
        this.logger.error(`snapshot at ${index} failed: ${describe(err)}`);
      },
    );
  }

  /** Compacts to a snapshot whose encoding finished. Called from the loop, between Readys. */
  private async compactToReadySnapshot(): Promise<void> {
    const r = this.readySnapshot;
    if (!r) return;
    this.readySnapshot = null;
    try {
      const snap = this.core.compact(r.index, r.data);
      if (!snap) return;
      const keep = this.opts.raft?.keepEntries ?? 500;
      const t0 = performance.now();
      // The core compacted its in-memory log already; the stored log keeps
      // every entry until the image is durable, so a save that fails (disk
      // full) is retried like any write, and the node does not lead meanwhile.
      await this.durably(`saving the snapshot at ${snap.meta.index}`, () => this.storage.saveSnapshot(snap, Math.max(1, snap.meta.index - keep + 1)), () => this.metrics.snapshotErrors++);
      if (this.stopped) return;
      this.logger.info({ index: snap.meta.index, bytes: snap.data.byteLength }, `snapshot at ${snap.meta.index} (${snap.data.byteLength} bytes) saved in ${Math.round(performance.now() - t0)} ms`);
      this.snapshotIndex = snap.meta.index;
      this.metrics.snapshotsTaken++;
      this.metrics.lastSnapshotBytes = snap.data.byteLength;
    } finally {
      this.snapshotInFlight = false;
    }
  }

  /** A snapshot image holds the dedup table next to the state machine's own image. */
  private restore(data: Uint8Array): void {
    const img = snapshotUnpackr.unpack(data) as { v: number; dedup: DedupImage; sm: Uint8Array };
    this.dedup = DedupTable.fromImage(img.dedup);
    this.opts.stateMachine.restore(img.sm);
  }

}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The (origin, seq) header of an encoded proposal, as a view: a valid proposal frame with an empty command. */
function proposalRef(encoded: Uint8Array): Uint8Array {
  return encoded.subarray(0, 10 + encoded[1]!);
}

/**
 * A follower that took several appends in one Ready acknowledges each; a
 * successful appendResp says "my log matches yours up to index", so the
 * highest one per (leader, term) says everything the lower ones do (the
 * leader's progress only moves forward on acks). Send just that one.
 * Rejections carry hints and are all kept, as is every other message.
 */
function coalesceAcks(msgs: Message[]): Message[] {
  let best: Map<string, Message & { type: 'appendResp' }> | null = null;
  let acks = 0;
  for (const m of msgs) {
    if (m.type !== 'appendResp' || m.reject) continue;
    acks++;
    best ??= new Map();
    const k = `${m.to}\u0000${m.term}`;
    const b = best.get(k);
    if (b === undefined || m.index > b.index) best.set(k, m);
  }
  if (best === null || acks === best.size) return msgs;
  const keep = new Set<Message>(best.values());
  return msgs.filter((m) => m.type !== 'appendResp' || m.reject || keep.has(m));
}

function decodeTag(b: Uint8Array): ConfTag | null {
  try {
    const t = tagUnpackr.unpack(b) as ConfTag;
    return typeof t === 'object' && t !== null && typeof t.o === 'string' && typeof t.s === 'number' ? t : null;
  } catch {
    return null;
  }
}

export { RaftError, RaftErrorCode };
