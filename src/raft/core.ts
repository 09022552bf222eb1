/**
 * The pure Raft state machine (Ongaro & Ousterhout; shaped after
 * etcd-io/raft's RawNode). No I/O, no clock, no ambient randomness: the
 * driver feeds ticks, peer messages and proposals, then drains a Ready that
 * says what to persist, send and apply, and acknowledges it with advance().
 *
 * Features: PreVote, CheckQuorum, pipelined replication with per-follower flow
 * control, fast log backtracking, chunked snapshots, single-server membership
 * changes with learners (argument in confchange.ts), leadership transfer,
 * ReadIndex (safe and lease), proposal forwarding, an uncommitted-bytes cap.
 *
 * Durability rule the whole design leans on: everything a node tells a peer is
 * sent only after the Ready carrying it is durable, and a leader counts its
 * own log towards a quorum only up to what advance() confirmed durable.
 */
import type { Rng } from '../util/rng.js';
import { assert } from '../util/assert.js';
import { validate } from '../wire/schema.js';
import {
  decodeConfChange,
  encodeConfChange,
  invalidReason,
  Membership,
} from './confchange.js';
import { RaftError } from './errors.js';
import type {
  AppendMsg,
  AppendRespMsg,
  ConfChange,
  ConfState,
  Entry,
  HardState,
  HeartbeatMsg,
  HeartbeatRespMsg,
  Message,
  NodeId,
  ProposeMsg,
  ProposeResult,
  RaftBootState,
  RaftConfig,
  RaftNode,
  ReadState,
  Ready,
  RefusalCode,
  RefusedProposals,
  Snapshot,
  SnapshotMsg,
  SnapshotRespMsg,
  SoftState,
  VoteMsg,
  VoteRespMsg,
} from './interface.js';
import { RaftLog } from './log.js';
import { messageSchema } from './messages.js';
import type { DropReason, RaftMetrics } from './metrics.js';
import { newMetrics } from './metrics.js';
import { resolveOptions } from './options.js';
import type { RaftOptions } from './options.js';
import { Progress } from './progress.js';
import { quorumActive, quorumMin, voteResult } from './quorum.js';
import { ctxKey, ReadQueue } from './readonly.js';
import type { PendingRead } from './readonly.js';
import { SnapshotAssembly } from './snapshot-assembly.js';

type Role = SoftState['role'];

/** Distributive Omit so each member of the Message union keeps its own fields. */
type Outgoing = Message extends infer M ? (M extends Message ? Omit<M, 'from' | 'term'> & { term?: number } : never) : never;

const EMPTY = new Uint8Array(0);
const NEVER = Number.MAX_SAFE_INTEGER;
/** How many refs of appended forwarded entries a leader remembers (see recentRefs). */
const RECENT_REFS = 4096;

export class RaftCore implements RaftNode {
  readonly id: NodeId;
  readonly metrics: RaftMetrics = newMetrics();
  private readonly rng: Rng;
  private readonly opts: RaftOptions;

  // Persistent state (HardState) and the log.
  private term = 0;
  private vote: NodeId | null = null;
  private readonly log: RaftLog;
  private applied: number;

  // Volatile state.
  private role: Role = 'follower';
  private leader: NodeId | null = null;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private votes = new Map<NodeId, boolean>();
  /** Won the election before our own vote was durable: become leader at advance(). */
  private leadWhenDurable = false;

  // Configuration: the latest in the log (committed or not).
  private conf: Membership;
  private voterList: NodeId[] = [];
  /** Configuration at log.offset, replayed forward by confIndexes. */
  private baseConf: ConfState;
  /** Indexes of conf entries in the log, ascending. */
  private confIndexes: number[] = [];

  // Leader state.
  private readonly prs = new Map<NodeId, Progress>();
  private uncommittedBytes = 0;
  private transferee: NodeId | null = null;
  private transferElapsed = 0;
  private leaderTicks = 0;
  /** This term's leader sent TimeoutNow: another node may be leader soon, so no more lease reads. */
  private handedOver = false;
  private ticksSinceBoot = 0;
  private hbSeq = 0;
  /** Leader tick at which each recent heartbeat sequence was sent (lease reads). */
  private readonly hbSentAt = new Map<number, number>();
  private readonly reads = new ReadQueue();
  /** Reads that arrived before this leader committed an entry of its term. */
  private waitingReads: { ctx: Uint8Array; from: NodeId }[] = [];
  private readBcastPending = false;
  private appendBcastPending = false;

  /**
   * Refs of the latest forwarded entries this node appended as leader. A
   * duplicated propose message must not be answered "refused" for entries
   * its first copy got appended: those may commit.
   */
  private readonly recentRefs = new Set<string>();

  // Follower state.
  private readonly forwardBuf: { data: Uint8Array; ref: Uint8Array | undefined }[] = [];
  private readonly forwardedReads = new Set<string>();
  private readonly assembly: SnapshotAssembly;

  /** Latest snapshot this node holds (taken locally or received): served to slow followers. */
  private snapshot: Snapshot | null;

  // Ready bookkeeping.
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private refused: RefusedProposals[] = [];
  private unstableSnapshot: Snapshot | null = null;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private inFlight: Ready | null = null;

  constructor(config: RaftConfig) {
    this.id = config.id;
    this.rng = config.rng;
    this.opts = resolveOptions(config.options);
    const boot: RaftBootState = config.boot;
    const snap = boot.snapshot;
    const offset = snap?.meta.index ?? 0;
    const offsetTerm = snap?.meta.term ?? 0;
    const entries = boot.entries.filter((e) => e.index > offset);
    const fresh = snap === null && entries.length === 0 && boot.hardState.term === 0 && boot.hardState.commit === 0;
    assert(entries.length === 0 || entries[0]!.index === offset + 1, () => `boot log has a gap after ${offset}`);
    const lastIndex = offset + entries.length;
    // The state machine only applies committed entries, so applied > commit
    // just means the commit index on disk lagged: raising it is safe.
    const commit = Math.max(boot.hardState.commit, offset, Math.min(boot.applied, lastIndex));
    assert(commit <= lastIndex, () => `boot commit ${commit} beyond last index ${lastIndex}`);
    this.log = new RaftLog(offset, offsetTerm, entries, commit);
    this.applied = Math.max(boot.applied, offset);
    assert(this.applied <= commit, 'applied beyond commit');
    this.term = boot.hardState.term;
    this.vote = boot.hardState.vote;
    this.snapshot = snap;
    // The configuration is a function of the snapshot and the log alone, never
    // of what a node was told out of band: a joining node replaying the log
    // from index 1 must see exactly the configurations the cluster went
    // through, or it could count votes with a wrong one.
    this.baseConf = snap ? snap.meta.conf : { voters: [], learners: [] };
    this.conf = new Membership(this.baseConf);
    for (const e of entries) if (e.type === 'conf') this.confIndexes.push(e.index);
    this.prevSoft = { leader: null, role: 'follower' };
    this.prevHard = { ...boot.hardState };
    if (fresh && boot.conf.voters.length > 0) this.bootstrap(boot.conf);
    this.assembly = new SnapshotAssembly(this.opts.maxSnapshotBytes);
    this.rebuildConf();
    this.resetElectionTimeout();
  }

  /**
   * A founding member of a new cluster writes the initial configuration as
   * conf entries 1..n of term 1, committed by fiat (etcd-io/raft does the
   * same). Every founder writes byte-identical entries (sorted ids), so their
   * logs agree, and nodes that join later learn the founding configuration
   * from the log like any other change.
   */
  private bootstrap(conf: ConfState): void {
    const changes: ConfChange[] = [
      ...[...new Set(conf.voters)].sort().map((node): ConfChange => ({ type: 'addVoter', node })),
      ...[...new Set(conf.learners)].filter((l) => !conf.voters.includes(l)).sort().map((node): ConfChange => ({ type: 'addLearner', node })),
    ];
    for (const c of changes) {
      const e: Entry = { term: 1, index: this.log.lastIndex() + 1, type: 'conf', data: encodeConfChange(c) };
      this.log.append(e);
      this.confIndexes.push(e.index);
    }
    this.log.commitTo(this.log.lastIndex());
    this.term = 1;
  }

  // ---------------------------------------------------------------- queries

  softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** The resolved options (read-only). */
  get options(): Readonly<RaftOptions> {
    return this.opts;
  }

  confState(): ConfState {
    return this.conf.toConfState();
  }

  /** Read-only views for tests, the simulator and the driver's status page. */
  get status(): {
    term: number;
    role: Role;
    leader: NodeId | null;
    commit: number;
    applied: number;
    firstIndex: number;
    lastIndex: number;
    lastTerm: number;
    snapshotIndex: number;
    transferee: NodeId | null;
    uncommittedBytes: number;
  } {
    return {
      term: this.term,
      role: this.role,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      snapshotIndex: this.snapshot?.meta.index ?? 0,
      transferee: this.transferee,
      uncommittedBytes: this.uncommittedBytes,
    };
  }

  /** The entry at `i` if this node still holds it in memory. */
  entryAt(i: number): Entry | undefined {
    return this.log.entry(i);
  }

  termAt(i: number): number | undefined {
    return this.log.term(i);
  }

  progressOf(peer: NodeId): Readonly<Progress> | undefined {
    return this.prs.get(peer);
  }

  // ------------------------------------------------------------- operations

  tick(): void {
    if (this.ticksSinceBoot < NEVER) this.ticksSinceBoot++;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  propose(data: Uint8Array, ref?: Uint8Array): ProposeResult {
    if (this.role === 'leader') {
      if (this.transferee !== null) {
        this.metrics.proposalsRefused++;
        throw new RaftError('PROPOSAL_DROPPED', `leadership transfer to ${this.transferee} under way`, this.id);
      }
      if (!this.fitsUncommitted(data.byteLength)) {
        this.metrics.proposalsRefused++;
        throw new RaftError('UNCOMMITTED_CAP', this.capReason(data.byteLength), this.id);
      }
      const e = this.appendEntry('normal', data);
      return { forwarded: false, index: e.index, term: e.term };
    }
    if (this.leader === null) {
      this.metrics.proposalsRefused++;
      throw new RaftError('NOT_LEADER', 'no leader known', null);
    }
    if (!this.opts.forwardProposals) {
      this.metrics.proposalsRefused++;
      throw new RaftError('NOT_LEADER', `leader is ${this.leader}`, this.leader);
    }
    this.forwardBuf.push({ data, ref: ref !== undefined && ref.byteLength > 0 ? ref : undefined });
    this.metrics.proposalsForwarded++;
    return { forwarded: true, to: this.leader };
  }

  proposeConfChange(change: ConfChange): { index: number; term: number } {
    if (this.role !== 'leader') throw new RaftError('NOT_LEADER', 'configuration changes go to the leader', this.leader);
    if (this.transferee !== null) {
      throw new RaftError('TRANSFER_IN_PROGRESS', `leadership transfer to ${this.transferee} under way`, this.id);
    }
    if (!this.committedInTerm()) {
      throw new RaftError('CONF_CHANGE_PENDING', 'leader has not committed an entry of its term yet', this.id);
    }
    const last = this.confIndexes[this.confIndexes.length - 1] ?? 0;
    if (last > this.log.committed) {
      throw new RaftError('CONF_CHANGE_PENDING', `configuration change at ${last} not committed yet`, this.id);
    }
    const why = invalidReason(this.conf, change);
    if (why !== null) throw new RaftError('INVALID_CONF_CHANGE', why, this.id);
    if (change.type === 'addVoter' && this.conf.learners.has(change.node)) {
      const pr = this.prs.get(change.node);
      const lag = this.log.lastIndex() - (pr?.match ?? 0);
      if (pr === undefined || pr.state !== 'replicate' || lag > this.opts.promotionMaxLag) {
        throw new RaftError('LEARNER_BEHIND', `learner ${change.node} has not caught up (${lag} entries behind): retry later`, this.id);
      }
    }
    const e = this.appendEntry('conf', encodeConfChange(change));
    return { index: e.index, term: e.term };
  }

  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader') throw new RaftError('NOT_LEADER', 'only the leader can transfer leadership', this.leader);
    if (to === this.id) return;
    if (this.transferee !== null) {
      if (this.transferee === to) return;
      throw new RaftError('TRANSFER_IN_PROGRESS', `transfer to ${this.transferee} under way`, this.id);
    }
    if (!this.conf.voters.has(to)) throw new RaftError('INVALID_TRANSFER', `${to} is not a voter`, this.id);
    this.transferee = to;
    this.transferElapsed = 0;
    this.metrics.transfersStarted++;
    const pr = this.prs.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, pr, true);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.handedOver = true;
    this.send({ type: 'timeoutNow', to });
  }

  readIndex(ctx: Uint8Array): void {
    if (this.role === 'leader') {
      if (this.reads.size + this.waitingReads.length >= this.opts.maxPendingReads) {
        throw new RaftError('TOO_MANY_READS', `${this.opts.maxPendingReads} reads pending`, this.id);
      }
      this.leaderRead(ctx, this.id);
      return;
    }
    if (this.leader === null) throw new RaftError('NOT_LEADER', 'no leader known', null);
    if (this.forwardedReads.size >= this.opts.maxPendingReads) {
      throw new RaftError('TOO_MANY_READS', `${this.opts.maxPendingReads} reads pending`, this.leader);
    }
    this.forwardedReads.add(ctxKey(ctx));
    this.send({ type: 'readIndex', to: this.leader, ctx });
  }

  reportUnreachable(peer: NodeId): void {
    const pr = this.prs.get(peer);
    if (this.role === 'leader' && pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  compact(index: number, snapshotData: Uint8Array): Snapshot | null {
    if (index > this.applied) throw new RaftError('BAD_REQUEST', `compact(${index}) beyond applied ${this.applied}`, this.leader);
    if (index <= (this.snapshot?.meta.index ?? 0) || index < this.log.offset) return null;
    const term = this.log.term(index);
    assert(term !== undefined, 'compact index must be in the log');
    const snap: Snapshot = { meta: { index, term, conf: this.confAt(index) }, data: snapshotData };
    this.snapshot = snap;
    const cut = index - this.opts.keepEntries;
    if (cut > this.log.offset) {
      this.baseConf = this.confAt(cut);
      this.confIndexes = this.confIndexes.filter((i) => i > cut);
      this.log.compactTo(cut);
    }
    return snap;
  }

  // ----------------------------------------------------------------- Ready

  hasReady(): boolean {
    if (this.inFlight !== null) return false;
    return (
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.refused.length > 0 ||
      this.forwardBuf.length > 0 ||
      this.appendBcastPending ||
      this.readBcastPending ||
      this.unstableSnapshot !== null ||
      this.log.hasUnstable() ||
      this.softChanged() ||
      this.hardChanged() ||
      this.nextApplyIndex() <= this.log.committed
    );
  }

  ready(): Ready {
    assert(this.inFlight === null, 'ready() called again before advance()');
    this.flushForwarded();
    if (this.role === 'leader') this.flushLeaderBroadcasts();
    const soft = this.softState();
    const hard = this.hardState();
    const entries = this.log.unstable();
    if (entries.length > 0) this.log.markHanded(entries[entries.length - 1]!.index);
    const snapshot = this.unstableSnapshot;
    const rd: Ready = {
      softState: this.softChanged() ? soft : null,
      hardState: this.hardChanged() ? hard : null,
      entries,
      snapshot,
      messages: this.msgs,
      committed: this.committedToApply(),
      readStates: this.readStates,
      refused: this.refused,
      mustSync: entries.length > 0 || snapshot !== null || hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote,
    };
    this.msgs = [];
    this.readStates = [];
    this.refused = [];
    this.inFlight = rd;
    return rd;
  }

  advance(rd: Ready): void {
    assert(this.inFlight === rd, 'advance() must acknowledge the last Ready');
    this.inFlight = null;
    if (rd.softState !== null) this.prevSoft = rd.softState;
    if (rd.hardState !== null) this.prevHard = rd.hardState;
    this.log.stableToHanded();
    if (rd.snapshot !== null) {
      this.applied = Math.max(this.applied, rd.snapshot.meta.index);
      if (this.unstableSnapshot === rd.snapshot) this.unstableSnapshot = null;
    }
    if (rd.committed.length > 0) this.applied = Math.max(this.applied, rd.committed[rd.committed.length - 1]!.index);
    if (this.leadWhenDurable && this.role === 'candidate' && this.prevHard.term === this.term && this.prevHard.vote === this.id) {
      this.becomeLeader();
    }
    // Our own log just became durable: it may complete a quorum.
    if (this.role === 'leader') this.maybeCommit();
  }

  private softChanged(): boolean {
    return this.prevSoft.leader !== this.leader || this.prevSoft.role !== this.role;
  }

  private hardChanged(): boolean {
    return this.prevHard.term !== this.term || this.prevHard.vote !== this.vote || this.prevHard.commit !== this.log.committed;
  }

  private nextApplyIndex(): number {
    return Math.max(this.applied, this.unstableSnapshot?.meta.index ?? 0) + 1;
  }

  private committedToApply(): Entry[] {
    const lo = this.nextApplyIndex();
    if (lo > this.log.committed) return [];
    return this.log.slice(lo, this.log.committed, this.opts.maxApplyBytes);
  }

  // ------------------------------------------------------------------ step

  step(m: Message): void {
    this.metrics.messagesIn++;
    if (validate(messageSchema, m) !== null || !this.wellFormed(m)) return this.drop('malformed');
    if (m.to !== this.id) return this.drop('wrongRecipient');
    if (m.from === this.id) return this.drop('fromSelf');
    if (!this.conf.isMember(m.from) && !acceptedFromStrangers(m)) return this.drop('unknownPeer');

    if (m.term > this.term) {
      if (m.type === 'vote' && !m.transfer && this.inLease()) return this.drop('inLease');
      const keepTerm = (m.type === 'vote' && m.pre) || (m.type === 'voteResp' && m.pre && !m.reject);
      if (!keepTerm) {
        const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      if ((this.opts.checkQuorum || this.opts.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
        // A deposed leader that cannot hear the new one (or a node whose
        // PreVotes keep failing) would otherwise never learn our term.
        this.send({ type: 'appendResp', to: m.from, index: 0, reject: true, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === 'vote' && m.pre) {
        this.send({ type: 'voteResp', to: m.from, pre: true, reject: true });
      }
      return this.drop('staleTerm');
    }

    if (m.type === 'vote') return this.handleVote(m);
    switch (this.role) {
      case 'leader':
        return this.stepLeader(m);
      case 'candidate':
      case 'pre-candidate':
        return this.stepCandidate(m);
      case 'follower':
        return this.stepFollower(m);
    }
  }

  private drop(reason: DropReason): void {
    this.metrics.dropped[reason]++;
  }

  /** Semantic checks the schema cannot express. */
  private wellFormed(m: Message): boolean {
    switch (m.type) {
      case 'append': {
        if (m.prevTerm > m.term) return false;
        let prevTerm = m.prevTerm;
        for (let i = 0; i < m.entries.length; i++) {
          const e = m.entries[i]!;
          if (e.index !== m.prevIndex + 1 + i || e.term < prevTerm || e.term > m.term || e.term === 0) return false;
          prevTerm = e.term;
        }
        return true;
      }
      case 'snapshot':
        return m.meta.term <= m.term && m.meta.index > 0 && m.meta.term > 0 && m.offset + m.data.length <= m.total;
      case 'propose':
        return m.refs === undefined || m.refs.length === m.entries.length;
      default:
        return true;
    }
  }

  private inLease(): boolean {
    // We heard from a live leader less than an election timeout ago: a
    // candidate now is a partitioned or removed node, and must not depose it.
    if (this.opts.checkQuorum && this.leader !== null && this.electionElapsed < this.opts.electionTicksMin) return true;
    // With lease reads, a restarted node may have forgotten a lease it granted
    // just before crashing: honour it blindly for one election timeout.
    return this.opts.readOnly === 'lease' && this.ticksSinceBoot < this.opts.electionTicksMin;
  }

  private handleVote(m: VoteMsg): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leader === null) ||
      (m.pre && m.term > this.term);
    const lastTerm = this.log.lastTerm();
    const upToDate = m.lastTerm > lastTerm || (m.lastTerm === lastTerm && m.lastIndex >= this.log.lastIndex());
    if (canVote && upToDate) {
      // A PreVote grant carries the term the candidate asked about, so it is
      // not mistaken for stale; a real grant is in our (now equal) term.
      this.send({ type: 'voteResp', to: m.from, term: m.term, pre: m.pre, reject: false });
      if (!m.pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: 'voteResp', to: m.from, pre: m.pre, reject: true });
    }
  }

  // ---------------------------------------------------------------- leader

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'appendResp':
        return this.onAppendResp(m);
      case 'heartbeatResp':
        return this.onHeartbeatResp(m);
      case 'snapshotResp':
        return this.onSnapshotResp(m);
      case 'propose': {
        let bytes = 0;
        for (const d of m.entries) bytes += d.byteLength;
        if (this.transferee !== null) return this.refuseForwarded(m, 'PROPOSAL_DROPPED', `leadership transfer to ${this.transferee} under way`);
        if (!this.fitsUncommitted(bytes)) return this.refuseForwarded(m, 'UNCOMMITTED_CAP', this.capReason(bytes));
        // All or nothing: a refusal always covers the whole message, so no
        // entry is ever both appended and reported refused.
        for (const d of m.entries) this.appendEntry('normal', d);
        if (m.refs !== undefined) for (const r of m.refs) if (r.byteLength > 0) this.rememberRef(r);
        return;
      }
      case 'readIndex':
        if (this.reads.size + this.waitingReads.length >= this.opts.maxPendingReads) return this.drop('readIndex');
        return this.leaderRead(m.ctx, m.from);
      default:
        // voteResp after winning, another node's leader traffic in our term
        // (impossible unless buggy), timeoutNow to ourselves, read answers.
        return this.drop('unexpected');
    }
  }

  private onAppendResp(m: AppendRespMsg): void {
    const pr = this.prs.get(m.from);
    if (pr === undefined) return this.drop('unknownPeer');
    pr.recentActive = true;
    if (m.reject) {
      // We never sent an append beyond our log: such a rejection is garbage.
      if (m.index > this.log.lastIndex()) return this.drop('malformed');
      if (pr.state === 'snapshot') return this.drop('unexpected');
      if (pr.maybeDecrTo(m.index, this.retryPoint(m))) this.sendAppend(m.from, pr, true);
      else this.drop('unexpected');
      return;
    }
    if (m.index > this.log.lastIndex()) return this.drop('malformed');
    const updated = pr.maybeUpdate(m.index);
    if (pr.state === 'snapshot') {
      // The follower holds the snapshot we stream (it may have had it already,
      // even when this ack is not news), or enough log: leave snapshot state.
      // If we compacted past it meanwhile, the next append starts a new one.
      if (pr.match >= pr.pendingSnapshot || pr.match + 1 >= this.log.firstIndex()) {
        pr.becomeProbe();
        if (pr.match + 1 >= this.log.firstIndex()) pr.becomeReplicate();
      } else if (!updated) return;
    } else if (!updated) {
      return; // duplicated or reordered ack: old news
    } else if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else {
      pr.inflights.freeLE(m.index);
    }
    this.maybeCommit();
    if (this.role !== 'leader') return; // committed our own removal
    let sent = false;
    while (this.sendAppend(m.from, pr, false)) sent = true;
    if (!sent && pr.canBumpCommit(this.log.committed)) this.sendAppend(m.from, pr, true);
    if (this.transferee === m.from && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  /**
   * Where to probe next after a rejection. The follower named the term at the
   * conflict and where that term starts in its log: if we hold that term too,
   * our logs agree up to our last entry of it; if not, every entry of that term
   * on the follower is wrong, so skip them all in one round trip.
   */
  private retryPoint(m: AppendRespMsg): number {
    let next = m.hintIndex;
    if (m.hintTerm !== 0) {
      const j = this.log.lastIndexWithTermAtMost(m.hintTerm, m.index);
      if (j !== undefined && this.log.term(j) === m.hintTerm) next = j + 1;
    }
    return Math.min(next, this.log.lastIndex() + 1);
  }

  private onHeartbeatResp(m: HeartbeatRespMsg): void {
    const pr = this.prs.get(m.from);
    if (pr === undefined) return this.drop('unknownPeer');
    pr.recentActive = true;
    if (pr.state === 'snapshot') {
      // The follower is alive but the chunk stream stalled (a chunk or its ack
      // was lost): the heartbeat round is the retransmission timer.
      this.sendSnapshotChunk(m.from, pr);
    } else {
      pr.paused = false;
      if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
      // In replicate state everything may look in flight while some of it was
      // lost: an (empty) append at next-1 either gets acknowledged or rejected,
      // and a rejection restarts the flow from where the follower really is.
      if (pr.match < this.log.lastIndex() && !this.sendAppend(m.from, pr, false)) this.sendAppend(m.from, pr, 'probe');
    }
    if (m.readSeq > pr.ackSeq && m.readSeq <= this.hbSeq) {
      pr.ackSeq = m.readSeq;
      const sentAt = this.hbSentAt.get(m.readSeq);
      if (sentAt !== undefined && sentAt > pr.ackTick) pr.ackTick = sentAt;
      this.releaseReads();
    }
  }

  private onSnapshotResp(m: SnapshotRespMsg): void {
    const pr = this.prs.get(m.from);
    if (pr === undefined) return this.drop('unknownPeer');
    pr.recentActive = true;
    const snap = pr.snap;
    if (pr.state !== 'snapshot' || snap === null || m.index !== pr.pendingSnapshot || m.offset > snap.data.length) {
      return this.drop('unexpected');
    }
    pr.snapOffset = m.offset;
    pr.paused = false;
    // Once every byte is acknowledged, the follower's appendResp completes the switch.
    if (m.offset < snap.data.length) this.sendSnapshotChunk(m.from, pr);
  }

  private tickLeader(): void {
    this.leaderTicks++;
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.transferee !== null && ++this.transferElapsed >= this.opts.electionTicksMin) {
      // The target did not take over in time (down, or too far behind).
      this.transferee = null;
      this.metrics.transfersAborted++;
    }
    if (this.electionElapsed >= this.opts.electionTicksMin) {
      this.electionElapsed = 0;
      if (this.opts.checkQuorum) {
        const ok = quorumActive(this.voterList, (id) => id === this.id || this.prs.get(id)?.recentActive === true);
        for (const pr of this.prs.values()) pr.recentActive = false;
        if (!ok) {
          this.metrics.checkQuorumStepDowns++;
          this.becomeFollower(this.term, null);
          return;
        }
      }
    }
    if (this.heartbeatElapsed >= this.opts.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  private bcastHeartbeat(): void {
    const seq = ++this.hbSeq;
    this.hbSentAt.set(seq, this.leaderTicks);
    // Only lease reads look back in time, and never further than a lease.
    for (const [s, t] of this.hbSentAt) {
      if (t >= this.leaderTicks - this.opts.electionTicksMax) break;
      this.hbSentAt.delete(s);
    }
    for (const [to, pr] of this.prs) {
      const hb: Omit<HeartbeatMsg, 'from' | 'term'> = {
        type: 'heartbeat',
        to,
        // Never past what the follower is known to hold: its log beyond match may
        // still diverge from ours.
        commit: Math.min(pr.match, this.log.committed),
        readSeq: seq,
      };
      this.send(hb);
      pr.sentCommit = Math.max(pr.sentCommit, hb.commit);
    }
    this.readBcastPending = false;
  }

  /** Leader work deferred to ready() so a burst of proposals or reads shares one message per follower. */
  private flushLeaderBroadcasts(): void {
    if (this.readBcastPending) this.bcastHeartbeat();
    if (this.appendBcastPending) {
      this.appendBcastPending = false;
      for (const [to, pr] of this.prs) {
        while (this.sendAppend(to, pr, false)) {
          // pipeline
        }
      }
    }
  }

  /**
   * Sends the next append to `to` if flow control allows. With `orEmpty`, an
   * entry-less append is sent when nothing new is due (to probe or carry the
   * commit index), but only when no append is in flight, so a reordered probe
   * cannot be rejected spuriously; 'probe' sends it regardless. Returns
   * whether entries were sent.
   */
  private sendAppend(to: NodeId, pr: Progress, orEmpty: boolean | 'probe'): boolean {
    if (!pr.canSend()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) {
      if (prevIndex < this.log.offset) this.startSnapshot(to, pr);
      return false;
    }
    const last = this.log.lastIndex();
    const entries = pr.next <= last ? this.log.slice(pr.next, last, this.opts.maxMsgBytes) : [];
    if (entries.length === 0 && !(orEmpty === 'probe' || (orEmpty && (pr.state === 'probe' || prevIndex === pr.match)))) return false;
    const commit = this.log.committed;
    const msg: Omit<AppendMsg, 'from' | 'term'> = { type: 'append', to, prevIndex, prevTerm, entries, commit };
    this.send(msg);
    // The follower clamps the commit index to the last entry of this message.
    const lastSent = entries.length > 0 ? entries[entries.length - 1]!.index : prevIndex;
    pr.sentCommit = Math.max(pr.sentCommit, Math.min(commit, lastSent));
    if (entries.length === 0) {
      if (pr.state === 'probe') pr.paused = true;
      return false;
    }
    let bytes = 0;
    for (const e of entries) bytes += e.data.byteLength;
    pr.sentEntries(entries[entries.length - 1]!.index, bytes);
    return true;
  }

  private startSnapshot(to: NodeId, pr: Progress): void {
    const snap = this.snapshot;
    assert(snap !== null && snap.meta.index >= this.log.offset, 'compacted log without a snapshot to serve');
    pr.becomeSnapshot(snap);
    this.metrics.snapshotsStarted++;
    this.sendSnapshotChunk(to, pr);
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snap = pr.snap!;
    const off = pr.snapOffset;
    const data = snap.data.subarray(off, Math.min(snap.data.length, off + this.opts.snapshotChunkBytes));
    const msg: Omit<SnapshotMsg, 'from' | 'term'> = { type: 'snapshot', to, meta: snap.meta, offset: off, total: snap.data.length, data };
    this.send(msg);
    this.metrics.snapshotChunksSent++;
    pr.paused = true;
  }

  private fitsUncommitted(bytes: number): boolean {
    // An empty backlog always admits one proposal, however large, so a big
    // entry cannot be refused forever.
    return this.uncommittedBytes === 0 || this.uncommittedBytes + bytes <= this.opts.maxUncommittedBytes;
  }

  private appendEntry(type: Entry['type'], data: Uint8Array): Entry {
    assert(this.role === 'leader', 'only a leader appends');
    const e: Entry = { term: this.term, index: this.log.lastIndex() + 1, type, data };
    this.log.append(e);
    this.uncommittedBytes += data.byteLength;
    this.appendBcastPending = true;
    if (type === 'normal') this.metrics.proposalsAppended++;
    if (type === 'conf') {
      this.metrics.confEntries++;
      this.confIndexes.push(e.index);
      this.rebuildConf();
    }
    return e;
  }

  private committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private maybeCommit(): void {
    const stable = this.log.stable;
    const idx = quorumMin(this.voterList, (id) => (id === this.id ? stable : (this.prs.get(id)?.match ?? 0)));
    // Only entries of our own term are committed by counting (§5.4.2); older
    // ones commit indirectly through them.
    if (idx <= this.log.committed || this.log.term(idx) !== this.term) return;
    const prev = this.log.committed;
    const firstInTerm = !this.committedInTerm();
    this.log.commitTo(idx);
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - this.log.bytesOfTerm(prev + 1, idx, this.term));
    this.bcastCommit();
    if (firstInTerm) {
      const waiting = this.waitingReads;
      this.waitingReads = [];
      for (const r of waiting) this.leaderRead(r.ctx, r.from);
    }
    if (!this.conf.voters.has(this.id)) {
      const lastConf = this.confIndexes[this.confIndexes.length - 1] ?? 0;
      if (lastConf <= this.log.committed) this.stepDownRemoved();
    }
  }

  /** Tells followers with nothing new to receive the new commit index, with an empty append. */
  private bcastCommit(): void {
    const commit = this.log.committed;
    for (const [to, pr] of this.prs) {
      if (pr.state !== 'snapshot' && pr.next > this.log.lastIndex() && pr.canBumpCommit(commit)) this.sendAppend(to, pr, true);
    }
  }

  /** Our removal (or demotion) committed: hand over to the most caught-up voter and stand down. */
  private stepDownRemoved(): void {
    let best: NodeId | null = null;
    let bestMatch = -1;
    for (const v of this.voterList) {
      const m = this.prs.get(v)?.match ?? 0;
      if (m > bestMatch) {
        best = v;
        bestMatch = m;
      }
    }
    if (best !== null && bestMatch === this.log.lastIndex()) this.sendTimeoutNow(best);
    this.becomeFollower(this.term, null);
  }

  private leaderRead(ctx: Uint8Array, from: NodeId): void {
    if (!this.committedInTerm()) {
      // Our commit index may still be behind what earlier leaders committed.
      this.waitingReads.push({ ctx, from });
      return;
    }
    const index = this.log.committed;
    if (this.opts.readOnly === 'lease' && !this.handedOver && this.leaseValid()) return this.answerRead({ seq: 0, index, ctx, from });
    this.reads.push({ seq: this.hbSeq + 1, index, ctx, from });
    this.readBcastPending = true;
    this.releaseReads(); // a single-voter cluster confirms itself
  }

  private releaseReads(): void {
    if (this.reads.size === 0) return;
    const seq = quorumMin(this.voterList, (id) => (id === this.id ? NEVER : (this.prs.get(id)?.ackSeq ?? 0)));
    for (const r of this.reads.releaseUpTo(seq)) this.answerRead(r);
  }

  /**
   * Leader only: the leader tick of the newest heartbeat a quorum (counting
   * us) has acknowledged, and the current leader tick; null when not leading.
   * The driver maps ticks to monotonic time for the fencing lease's authority
   * (manager/lease), which, unlike lease reads, must not trust ticks alone: a
   * stalled process ticks late.
   */
  quorumAck(): { ackTick: number; nowTick: number } | null {
    if (this.role !== 'leader') return null;
    const t = quorumMin(this.voterList, (id) => (id === this.id ? this.leaderTicks : (this.prs.get(id)?.ackTick ?? -NEVER)));
    return { ackTick: t, nowTick: this.leaderTicks };
  }

  /**
   * Lease: a follower that got our heartbeat sent at leader tick T refuses
   * votes until it has ticked electionTicksMin times, i.e. not before our tick
   * T + electionTicksMin - 1 given equal tick rates (one tick of phase slack).
   * Assumes bounded clock drift and no process pauses, hence opt-in.
   */
  private leaseValid(): boolean {
    const t = quorumMin(this.voterList, (id) => (id === this.id ? this.leaderTicks : (this.prs.get(id)?.ackTick ?? -NEVER)));
    return this.leaderTicks - t < this.opts.electionTicksMin - 1;
  }

  private answerRead(r: PendingRead): void {
    this.metrics.readIndexServed++;
    if (r.from === this.id) this.readStates.push({ index: r.index, ctx: r.ctx });
    else this.send({ type: 'readIndexResp', to: r.from, index: r.index, ctx: r.ctx });
  }

  // ------------------------------------------------------------- candidate

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'voteResp':
        return this.onVoteResp(m);
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        // Someone won this term.
        this.becomeFollower(this.term, m.from);
        return this.stepFollower(m);
      case 'proposeRefused':
        // The leader of this term (a pre-candidate keeps its term) refused
        // what we forwarded before we lost track of it.
        return this.onProposeRefused(m);
      default:
        return this.drop('unexpected');
    }
  }

  private onVoteResp(m: VoteRespMsg): void {
    const pre = this.role === 'pre-candidate';
    if (m.pre !== pre) return this.drop('unexpected');
    if (pre && !m.reject && m.term !== this.term + 1) return this.drop('unexpected');
    this.votes.set(m.from, !m.reject);
    this.checkVotes();
  }

  private checkVotes(): void {
    const res = voteResult(this.voterList, this.votes);
    if (res === 'won') {
      if (this.role === 'pre-candidate') this.campaign(false);
      else if (this.prevHard.term === this.term && this.prevHard.vote === this.id) this.becomeLeader();
      // Our own vote is not durable yet (a single voter wins the moment it
      // campaigns): lead only after advance(), so that every message a leader
      // emits comes from a durable term. Drivers may then send appends
      // before their own fsync completes (thesis §10.2.1) without ever
      // speaking for a term they could forget in a crash.
      else this.leadWhenDurable = true;
    } else if (res === 'lost') {
      this.becomeFollower(this.term, null);
    }
  }

  private tickElection(): void {
    this.electionElapsed++;
    // The sole voter of its configuration has no one to wait for: no other
    // node can win a vote it does not give, so the randomized timeout (which
    // only spreads out rival candidates) would just delay `shoal init` and a
    // single manager's restart by 1–2 s. Safety never rested on that timing.
    const timeout = this.soleVoter() ? 1 : this.randomizedElectionTimeout;
    if (this.electionElapsed >= timeout && this.canCampaign()) {
      this.electionElapsed = 0;
      if (this.opts.preVote) this.preCampaign();
      else this.campaign(false);
    }
  }

  /**
   * Voters campaign. So does a node that an UNCOMMITTED change removed: it may
   * hold the only copy of that change (a leader removing itself, then
   * crashing), and the remaining voters, still on the old configuration, may
   * need it to win. It counts votes with its latest configuration like
   * everyone, so this is safe; if it wins it commits the change and steps down.
   */
  private canCampaign(): boolean {
    if (this.conf.voters.has(this.id)) return true;
    const lastConf = this.confIndexes[this.confIndexes.length - 1] ?? 0;
    return lastConf > this.log.committed && this.confAt(this.log.committed).voters.includes(this.id);
  }

  private soleVoter(): boolean {
    return this.voterList.length === 1 && this.voterList[0] === this.id;
  }

  private preCampaign(): void {
    this.metrics.preElections++;
    this.role = 'pre-candidate';
    this.leader = null;
    this.votes = new Map([[this.id, true]]);
    this.resetElectionTimeout();
    this.clearFollowerRequests();
    this.requestVotes(true, false);
    this.checkVotes();
  }

  private campaign(transfer: boolean): void {
    this.metrics.elections++;
    this.leadWhenDurable = false;
    this.role = 'candidate';
    this.term++;
    this.vote = this.id;
    this.leader = null;
    this.votes = new Map([[this.id, true]]);
    this.resetElectionTimeout();
    this.clearFollowerRequests();
    this.requestVotes(false, transfer);
    this.checkVotes();
  }

  private requestVotes(pre: boolean, transfer: boolean): void {
    const term = pre ? this.term + 1 : this.term;
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const v of this.voterList) {
      if (v === this.id) continue;
      this.send({ type: 'vote', to: v, term, pre, lastIndex, lastTerm, transfer });
    }
  }

  // -------------------------------------------------------------- follower

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        if (this.leader !== null && this.leader !== m.from) return this.drop('unexpected'); // two leaders in one term: impossible
        this.leader = m.from;
        this.electionElapsed = 0;
        if (m.type === 'append') return this.onAppend(m);
        if (m.type === 'heartbeat') {
          this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
          this.send({ type: 'heartbeatResp', to: m.from, readSeq: m.readSeq });
          return;
        }
        return this.onSnapshot(m);
      case 'timeoutNow':
        if (m.from !== this.leader || !this.canCampaign()) return this.drop('unexpected');
        return this.campaign(true);
      case 'readIndexResp': {
        if (!this.forwardedReads.delete(ctxKey(m.ctx))) return this.drop('unexpected');
        this.readStates.push({ index: m.index, ctx: m.ctx });
        return;
      }
      case 'proposeRefused':
        return this.onProposeRefused(m);
      case 'propose':
        // Forwarded to us while we led; we do not any more. Nothing of it is
        // appended here, so the sender's proposers can fail now (and retry)
        // instead of at their timeout.
        return this.refuseForwarded(m, 'NOT_LEADER', this.leader !== null ? `not the leader any more; the leader is ${this.leader}` : 'not the leader any more; no leader known');
      case 'readIndex':
        return this.drop('readIndex');
      default:
        return this.drop('unexpected');
    }
  }

  private onAppend(m: AppendMsg): void {
    const committed = this.log.committed;
    if (m.prevIndex < committed) {
      // Everything up to our commit index matches any leader's log: say so.
      this.send({ type: 'appendResp', to: m.from, index: committed, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    if (!this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const last = this.log.lastIndex();
      let hintIndex: number;
      let hintTerm: number;
      if (m.prevIndex > last) {
        hintIndex = last + 1;
        hintTerm = 0;
      } else {
        hintTerm = this.log.term(m.prevIndex)!;
        hintIndex = this.log.firstIndexOfTermRun(committed + 1, m.prevIndex);
      }
      this.send({ type: 'appendResp', to: m.from, index: m.prevIndex, reject: true, hintIndex, hintTerm });
      return;
    }
    // Skip entries we already hold (a duplicated or reordered append must not
    // truncate anything); truncate only at a real conflict.
    let i = 0;
    const last = this.log.lastIndex();
    while (i < m.entries.length) {
      const e = m.entries[i]!;
      if (e.index > last || this.log.term(e.index) !== e.term) break;
      i++;
    }
    if (i < m.entries.length) {
      const from = m.entries[i]!.index;
      let confTouched = false;
      if (from <= last) {
        this.log.truncateFrom(from);
        while (this.confIndexes.length > 0 && this.confIndexes[this.confIndexes.length - 1]! >= from) {
          this.confIndexes.pop();
          confTouched = true;
        }
      }
      for (; i < m.entries.length; i++) {
        const e = m.entries[i]!;
        this.log.append(e);
        if (e.type === 'conf') {
          this.metrics.confEntries++;
          this.confIndexes.push(e.index);
          confTouched = true;
        }
      }
      if (confTouched) this.rebuildConf();
    }
    const lastNew = m.prevIndex + m.entries.length;
    this.log.commitTo(Math.min(m.commit, lastNew));
    this.send({ type: 'appendResp', to: m.from, index: lastNew, reject: false, hintIndex: 0, hintTerm: 0 });
  }

  private onSnapshot(m: SnapshotMsg): void {
    const committed = this.log.committed;
    if (m.meta.index <= committed) {
      this.assembly.reset();
      this.send({ type: 'appendResp', to: m.from, index: committed, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const out = this.assembly.add(m.meta, m.offset, m.total, m.data);
    if (out.kind === 'bad') return this.drop('badSnapshot');
    if (out.kind === 'ack') {
      const ack: Omit<SnapshotRespMsg, 'from' | 'term'> = { type: 'snapshotResp', to: m.from, index: m.meta.index, offset: out.offset };
      this.send(ack);
      return;
    }
    const snap: Snapshot = { meta: m.meta, data: out.data };
    const restored = this.restore(snap);
    const index = restored ? this.log.lastIndex() : this.log.committed;
    this.send({ type: 'appendResp', to: m.from, index, reject: false, hintIndex: 0, hintTerm: 0 });
  }

  private restore(snap: Snapshot): boolean {
    const { index, term } = snap.meta;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      // We already hold this prefix: the snapshot only tells us it committed.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(index, term);
    this.baseConf = snap.meta.conf;
    this.confIndexes = [];
    this.rebuildConf();
    this.snapshot = snap;
    this.unstableSnapshot = snap;
    this.metrics.snapshotsInstalled++;
    return true;
  }

  private flushForwarded(): void {
    if (this.forwardBuf.length === 0) return;
    const batch = this.forwardBuf.splice(0);
    if (this.role === 'leader') {
      // We won an election since: take them ourselves, or refuse them here.
      for (const { data, ref } of batch) {
        let code: RefusalCode | null = null;
        let reason = '';
        if (this.transferee !== null) (code = 'PROPOSAL_DROPPED'), (reason = `leadership transfer to ${this.transferee} under way`);
        else if (!this.fitsUncommitted(data.byteLength)) (code = 'UNCOMMITTED_CAP'), (reason = this.capReason(data.byteLength));
        if (code === null) {
          this.appendEntry('normal', data);
          continue;
        }
        this.metrics.dropped.proposal++;
        if (ref !== undefined) this.refused.push({ leader: this.id, code, reason, refs: [ref] });
      }
      return;
    }
    if (this.leader === null) {
      this.metrics.dropped.proposal += batch.length;
      return;
    }
    const leader = this.leader;
    let chunk: Uint8Array[] = [];
    let refs: Uint8Array[] = [];
    let withRef = false;
    let bytes = 0;
    const flush = () => {
      const m: Omit<ProposeMsg, 'from' | 'term'> = { type: 'propose', to: leader, entries: chunk };
      if (withRef) m.refs = refs;
      this.send(m);
    };
    for (const { data, ref } of batch) {
      const size = data.byteLength + (ref?.byteLength ?? 0);
      if (chunk.length > 0 && bytes + size > this.opts.maxMsgBytes) {
        flush();
        chunk = [];
        refs = [];
        withRef = false;
        bytes = 0;
      }
      chunk.push(data);
      refs.push(ref ?? EMPTY);
      if (ref !== undefined) withRef = true;
      bytes += size;
    }
    flush();
  }

  /**
   * The leader could not take a forwarded batch: nothing of it was appended.
   * Tell the sender which proposals (by ref only: under overload, echoing
   * payloads would make things worse) so its proposers fail now rather than
   * at their timeout.
   */
  private refuseForwarded(m: ProposeMsg, code: RefusalCode, reason: string): void {
    this.metrics.dropped.proposal += m.entries.length;
    if (m.refs === undefined) return;
    // A duplicated copy of a batch whose first copy we appended: those
    // entries may commit, so they are not reported refused.
    const refs = m.refs.filter((r) => r.byteLength > 0 && !this.recentRefs.has(ctxKey(r)));
    if (refs.length > 0) this.send({ type: 'proposeRefused', to: m.from, code, reason, refs });
  }

  private rememberRef(ref: Uint8Array): void {
    this.recentRefs.add(ctxKey(ref));
    if (this.recentRefs.size > RECENT_REFS) this.recentRefs.delete(this.recentRefs.values().next().value!);
  }

  private onProposeRefused(m: Extract<Message, { type: 'proposeRefused' }>): void {
    this.refused.push({ leader: m.from, code: m.code, reason: m.reason, refs: m.refs });
  }

  private capReason(bytes: number): string {
    return `${this.uncommittedBytes} uncommitted bytes + ${bytes} proposed exceed the leader's cap of ${this.opts.maxUncommittedBytes} bytes`;
  }

  // ------------------------------------------------------------ transitions

  private becomeFollower(term: number, leader: NodeId | null): void {
    assert(term >= this.term, 'terms never go backwards');
    if (term > this.term) {
      this.term = term;
      this.vote = null;
    }
    if (this.leader !== leader) this.clearFollowerRequests();
    this.role = 'follower';
    this.leader = leader;
    this.votes = new Map();
    this.leadWhenDurable = false;
    this.resetLeaderState();
    this.electionElapsed = 0;
    this.resetElectionTimeout();
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', 'only a candidate becomes leader');
    this.leadWhenDurable = false;
    this.role = 'leader';
    this.leader = this.id;
    this.resetLeaderState();
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.syncProgress();
    this.metrics.becameLeader++;
    // A leader can only commit by counting entries of its own term, so append
    // one now: it commits everything before it and unblocks reads and
    // membership changes (confchange.ts, point 3).
    this.appendEntry('noop', EMPTY);
    this.uncommittedBytes = 0;
  }

  private resetLeaderState(): void {
    this.prs.clear();
    this.transferee = null;
    this.uncommittedBytes = 0;
    this.reads.clear();
    this.waitingReads = [];
    this.readBcastPending = false;
    this.appendBcastPending = false;
    this.hbSentAt.clear();
    this.leaderTicks = 0;
    this.handedOver = false;
  }

  private clearFollowerRequests(): void {
    // Answers to reads forwarded to an old leader will never come (or must not
    // be trusted to match a new request): the driver times them out.
    this.forwardedReads.clear();
  }

  private resetElectionTimeout(): void {
    this.randomizedElectionTimeout = this.rng.range(this.opts.electionTicksMin, this.opts.electionTicksMax);
  }

  // --------------------------------------------------------- configuration

  private rebuildConf(): void {
    const m = new Membership(this.baseConf);
    for (const i of this.confIndexes) {
      const c = decodeConfChange(this.log.entry(i)!.data);
      if (c !== null) m.apply(c);
    }
    this.conf = m;
    this.voterList = [...m.voters].sort();
    if (this.role === 'leader') {
      this.syncProgress();
      if (this.transferee !== null && !m.voters.has(this.transferee)) this.transferee = null;
      this.maybeCommit();
    } else if (this.role !== 'follower' && !m.voters.has(this.id)) {
      this.becomeFollower(this.term, null);
    }
  }

  private syncProgress(): void {
    for (const id of this.prs.keys()) if (!this.conf.isMember(id)) this.prs.delete(id);
    const next = this.log.lastIndex() + 1;
    for (const id of [...this.conf.voters, ...this.conf.learners]) {
      if (id === this.id || this.prs.has(id)) continue;
      this.prs.set(id, new Progress(next, this.opts.maxInflightMsgs, this.opts.maxInflightBytes));
    }
  }

  /** Configuration in effect at `index` (which must be >= log.offset). */
  private confAt(index: number): ConfState {
    const m = new Membership(this.baseConf);
    for (const i of this.confIndexes) {
      if (i > index) break;
      const c = decodeConfChange(this.log.entry(i)!.data);
      if (c !== null) m.apply(c);
    }
    return m.toConfState();
  }

  // ---------------------------------------------------------------- output

  private send(m: Outgoing): void {
    const full = { ...m, from: this.id, term: m.term ?? this.term } as Message;
    this.msgs.push(full);
    this.metrics.messagesOut++;
  }
}

/**
 * Leader traffic is accepted from nodes outside our configuration (the entry
 * adding them may not have reached us yet; a brand-new node knows nobody; a
 * leader that just removed itself hands over with TimeoutNow), and so are vote
 * requests (a removed node cannot win: see confchange.ts). Every other kind is
 * only meaningful between members.
 */
function acceptedFromStrangers(m: Message): boolean {
  return m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot' || m.type === 'vote' || m.type === 'timeoutNow';
}
