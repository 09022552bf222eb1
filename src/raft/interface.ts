/**
 * Contract of the pure Raft core (src/raft/core.ts), shared with the storage
 * (sqlite), the driver (timers, persist-then-send, apply loop) and the
 * simulator. The core does no I/O: the driver feeds it ticks, peer messages and
 * proposals, and drains `Ready` batches that say what to persist, send and
 * apply. This file imports nothing that runs, so every other module can depend
 * on it without cycles.
 */
import type { Rng } from '../util/rng.js';
import type { RaftMetrics } from './metrics.js';
import type { RaftOptions } from './options.js';

export type NodeId = string;

export interface Entry {
  term: number;
  index: number;
  /** 'noop': appended by a new leader so it can commit in its own term. 'conf': an encoded ConfChange (see confchange.ts). */
  type: 'normal' | 'conf' | 'noop';
  data: Uint8Array;
}

export interface HardState {
  term: number;
  vote: NodeId | null;
  commit: number;
}

export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  /** Configuration in effect at `index` (including conf entries up to it). */
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

export interface ReadState {
  index: number;
  ctx: Uint8Array;
}

export interface SoftState {
  leader: NodeId | null;
  role: 'follower' | 'pre-candidate' | 'candidate' | 'leader';
}

export interface Ready {
  softState: SoftState | null; // non-null when changed
  hardState: HardState | null; // non-null when it must be persisted
  entries: Entry[]; // to persist (append). Any persisted entry with index >= entries[0].index must be discarded first.
  snapshot: Snapshot | null; // received snapshot to persist (and restore into the state machine) before applying committed entries
  messages: Message[]; // to send AFTER hardState/entries/snapshot are durable
  committed: Entry[]; // to apply, in order
  readStates: ReadState[]; // linearizable reads now safe once applied index >= index
  refused: RefusedProposals[]; // this node's proposals a leader refused: NOT appended, fail their proposers now
  mustSync: boolean; // whether the persist must be fsynced (term/vote/entries changed)
}
/**
 * Proposals this node made (through propose(data, ref)) that were forwarded to
 * a leader which refused them, or that this node, having become leader while
 * they waited to be forwarded, could not take. None of them was appended
 * anywhere. Only proposals that carried a `ref` are reported (by that ref).
 */
export interface RefusedProposals {
  /** The leader that refused them (this node's id for a local refusal). */
  leader: NodeId;
  code: RefusalCode;
  /** Human-readable cause from the leader, e.g. "900 uncommitted bytes + 300 proposed exceed the leader's cap of 1000 bytes". */
  reason: string;
  /** The refs the proposer passed to propose(), in no particular order. */
  refs: Uint8Array[];
}

/** Why a leader refused forwarded proposals (RaftErrorCode values). */
/** Why forwarded proposals were refused (never appended): the cap, a transfer under way, or the receiver no longer leads. */
export type RefusalCode = 'UNCOMMITTED_CAP' | 'PROPOSAL_DROPPED' | 'NOT_LEADER';

// Notes on Ready for storage and driver writers:
// - When `snapshot` is set, storage replaces its whole log: every persisted
//   entry is discarded (the core restarts its log empty right after
//   snapshot.meta.index), then `entries` (if any) are appended.
// - `committed` never contains entries at or below a snapshot in the same
//   Ready; committed conf entries are informational (the core already applies
//   configuration changes itself, see confchange.ts); read `confState()`.
// - Call `advance(ready)` once everything in it is durable, sent and applied,
//   and before the next `ready()`. step/tick/propose may be called between
//   ready() and advance(); their effects land in the next Ready.
// - Exception to "send after durable" that the core makes safe: a leader's
//   append/heartbeat/snapshot messages may go out while its own fsync runs
//   (Raft thesis §10.2.1). The core counts the leader's own log only up to
//   what advance() confirmed, and a node only starts leading once its vote
//   for itself is durable. Responses (appendResp, snapshotResp) and votes
//   (vote, voteResp) must still wait for the fsync.

// The initial state a restarted node is built from (loaded by storage):
export interface RaftBootState {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
  applied: number;
  conf: ConfState;
}
// RaftBootState conventions:
// - `conf` is used only to found a new cluster: when the node has no state at
//   all (no snapshot, no entries, term 0), a non-empty `conf` makes the core
//   write it as conf entries 1..n of term 1, committed (identical on every
//   founder). Otherwise it is ignored: the configuration is always derived
//   from the snapshot (snapshot.meta.conf) plus conf entries in the log.
// - A node JOINING an existing cluster must boot with an empty log and an
//   EMPTY conf ({voters: [], learners: []}): it learns the configuration from
//   the leader's log or snapshot once a member added it. (Booting it with a
//   non-empty conf would found a second, conflicting cluster.)
// - `entries` must be contiguous; entries at or below snapshot.meta.index are
//   ignored.
// - `applied` is the index the state machine has applied (at least the
//   snapshot's index once the snapshot is restored); committed entries above it
//   are handed out again in the first Ready.

// ---- Messages (runtime schema in messages.ts) ----

interface MessageBase {
  from: NodeId;
  to: NodeId;
  /** Sender's term; 0 is never valid on the wire. */
  term: number;
}

/** AppendEntries. An empty `entries` still probes the log at prevIndex. */
export interface AppendMsg extends MessageBase {
  type: 'append';
  prevIndex: number;
  prevTerm: number;
  entries: Entry[];
  commit: number;
}

/**
 * Reply to append (and the follower's "I now have the snapshot" signal).
 * On success `index` is the last index known to match the leader. On reject
 * `index` echoes the rejected prevIndex, and the hint says where to retry:
 * hintTerm = the follower's term at min(prevIndex, its lastIndex) (0 when its
 * log is shorter), hintIndex = the first index the follower holds with that
 * term (or its lastIndex + 1 when shorter).
 */
export interface AppendRespMsg extends MessageBase {
  type: 'appendResp';
  index: number;
  reject: boolean;
  hintIndex: number;
  hintTerm: number;
}

/** `readSeq` > 0 asks the follower to echo it: confirms leadership for ReadIndex. */
export interface HeartbeatMsg extends MessageBase {
  type: 'heartbeat';
  commit: number;
  readSeq: number;
}

export interface HeartbeatRespMsg extends MessageBase {
  type: 'heartbeatResp';
  readSeq: number;
}

/** RequestVote, or PreVote when `pre` (then `term` is the term the sender would campaign in). */
export interface VoteMsg extends MessageBase {
  type: 'vote';
  pre: boolean;
  lastIndex: number;
  lastTerm: number;
  /** Campaign caused by a leadership transfer: voters skip the leader-lease check. */
  transfer: boolean;
}

export interface VoteRespMsg extends MessageBase {
  type: 'voteResp';
  pre: boolean;
  reject: boolean;
}

/** One chunk of an InstallSnapshot; `offset` + data.length === total on the last chunk. */
export interface SnapshotMsg extends MessageBase {
  type: 'snapshot';
  meta: SnapshotMeta;
  offset: number;
  total: number;
  data: Uint8Array;
}

/** Chunk acknowledgement: the receiver has bytes [0, offset) of the snapshot at `index`. */
export interface SnapshotRespMsg extends MessageBase {
  type: 'snapshotResp';
  index: number;
  offset: number;
}

/** Leadership transfer: the target campaigns at once, skipping PreVote. */
export interface TimeoutNowMsg extends MessageBase {
  type: 'timeoutNow';
}

/** Proposals forwarded by a follower to the leader it knows. */
export interface ProposeMsg extends MessageBase {
  type: 'propose';
  entries: Uint8Array[];
  /**
   * Per entry, the proposer's opaque ref (propose(data, ref); empty when it
   * gave none), so a leader that refuses the entries can say which ones
   * without echoing the payloads. Absent when no entry has a ref (and from
   * senders that predate refusals); when present, as long as `entries`.
   */
  refs?: Uint8Array[];
}

/**
 * Leader to a follower that forwarded proposals: these were refused and NOT
 * appended (a leadership transfer is under way, or the uncommitted-bytes cap
 * is reached). Carries only the refs of the refused entries.
 */
export interface ProposeRefusedMsg extends MessageBase {
  type: 'proposeRefused';
  code: RefusalCode;
  reason: string;
  refs: Uint8Array[];
}

/** ReadIndex forwarded by a follower; the leader answers with readIndexResp. */
export interface ReadIndexMsg extends MessageBase {
  type: 'readIndex';
  ctx: Uint8Array;
}

export interface ReadIndexRespMsg extends MessageBase {
  type: 'readIndexResp';
  index: number;
  ctx: Uint8Array;
}

export type Message =
  | AppendMsg
  | AppendRespMsg
  | HeartbeatMsg
  | HeartbeatRespMsg
  | VoteMsg
  | VoteRespMsg
  | SnapshotMsg
  | SnapshotRespMsg
  | TimeoutNowMsg
  | ProposeMsg
  | ProposeRefusedMsg
  | ReadIndexMsg
  | ReadIndexRespMsg;

export type MessageType = Message['type'];

// ---- Operations ----

/**
 * A single-server membership change. Each sets one node's role outright
 * (idempotent on replay). Promote a learner with addVoter once it caught up.
 */
export interface ConfChange {
  type: 'addVoter' | 'addLearner' | 'removeNode';
  node: NodeId;
  /** Opaque tag for the driver (e.g. origin + sequence to resolve a promise on apply). */
  ctx?: Uint8Array;
}

/** Leader: where the entry landed. Follower: the data was forwarded to the leader. */
export type ProposeResult = { forwarded: false; index: number; term: number } | { forwarded: true; to: NodeId };

export interface RaftConfig {
  id: NodeId;
  rng: Rng;
  /** Partial: missing fields take the defaults of options.ts. */
  options?: Partial<RaftOptions>;
  boot: RaftBootState;
}

/** What the driver and simulator call. Errors are thrown as RaftError (errors.ts). */
export interface RaftNode {
  readonly id: NodeId;
  /** Plain counters (dropped messages by reason, elections, snapshots, …) for the driver to export. */
  readonly metrics: RaftMetrics;
  /** A message from a peer. Never throws on bad input: drops and counts it. */
  step(msg: Message): void;
  /** One logical clock tick (the driver maps a tick to 100 ms). */
  tick(): void;
  /**
   * Throws RaftError NOT_LEADER (no known leader), PROPOSAL_DROPPED, UNCOMMITTED_CAP.
   * `ref` (small, opaque, unique per proposal) names the proposal in a later
   * Ready.refused should the leader it is forwarded to refuse it.
   */
  propose(data: Uint8Array, ref?: Uint8Array): ProposeResult;
  /** Leader only. Throws NOT_LEADER, CONF_CHANGE_PENDING, TRANSFER_IN_PROGRESS, INVALID_CONF_CHANGE, LEARNER_BEHIND. */
  proposeConfChange(change: ConfChange): { index: number; term: number };
  /** Leader only. Throws NOT_LEADER, TRANSFER_IN_PROGRESS, INVALID_TRANSFER. */
  transferLeadership(to: NodeId): void;
  /** A linearizable read; the answer comes as a ReadState with the same ctx. Throws NOT_LEADER when no leader is known. */
  readIndex(ctx: Uint8Array): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(ready: Ready): void;
  /**
   * The driver snapshotted its state machine at `index` (≤ applied). Returns
   * the Snapshot (meta with term and conf filled in) for storage to persist,
   * or null when `index` is not newer than the snapshot already held.
   */
  compact(index: number, snapshotData: Uint8Array): Snapshot | null;
  /** The transport could not reach `peer`: stop pipelining to it until it answers. */
  reportUnreachable(peer: NodeId): void;
  confState(): ConfState;
  softState(): SoftState;
  hardState(): HardState;
}
