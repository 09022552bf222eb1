/**
 * Tunables of the Raft core, in ticks and bytes. The driver maps one tick to
 * 100 ms (DESIGN.md: etcd's 100 ms heartbeat, 1–2 s election timeout).
 */
export interface RaftOptions {
  /** Ticks between leader heartbeats. */
  heartbeatTicks: number;
  /** Election timeout is drawn uniformly from [min, max] ticks on every reset. */
  electionTicksMin: number;
  electionTicksMax: number;
  /** Probe with a PreVote round before bumping the term. */
  preVote: boolean;
  /** Leader steps down when it has not heard from a quorum within electionTicksMin. */
  checkQuorum: boolean;
  /** 'safe': every ReadIndex is confirmed by a heartbeat round. 'lease': answered from the leader lease (needs checkQuorum). */
  readOnly: 'safe' | 'lease';
  /** Upper bound of entry payload bytes in one append message (at least one entry is always sent). */
  maxMsgBytes: number;
  /** Append messages in flight per follower in replicate state. */
  maxInflightMsgs: number;
  /** Entry payload bytes in flight per follower; 0 = only maxInflightMsgs limits. */
  maxInflightBytes: number;
  /** Payload bytes of proposals appended but not yet committed, beyond which the leader refuses proposals. */
  maxUncommittedBytes: number;
  /** InstallSnapshot chunk size. */
  snapshotChunkBytes: number;
  /** Largest snapshot a follower will assemble (guards memory against a bad peer). */
  maxSnapshotBytes: number;
  /** Entries kept below a compaction point so slow followers catch up without a snapshot. */
  keepEntries: number;
  /** The driver snapshots its state machine every this many applied entries (the core never decides this). */
  snapshotEveryEntries: number;
  /** Payload bytes of committed entries handed out per Ready (bounds one apply batch). */
  maxApplyBytes: number;
  /** Followers forward proposals to the leader they know instead of refusing them. */
  forwardProposals: boolean;
  /** Outstanding ReadIndex requests a leader (or a follower awaiting answers) tracks. */
  maxPendingReads: number;
  /** A learner is promoted to voter only once it replicates normally and lags the leader's log by at most this many entries. */
  promotionMaxLag: number;
}

export const DEFAULT_OPTIONS: Readonly<RaftOptions> = Object.freeze({
  // etcd's 100 ms heartbeat with one tick = 100 ms: followers learn commits and
  // leadership fast, and a heartbeat is a few dozen bytes.
  heartbeatTicks: 1,
  // 1–2 s randomised (10–20 ticks): ten heartbeats must be lost before anyone
  // campaigns, and the spread makes split votes rare. SwarmKit's 10–20 s is
  // why Swarm fails over slowly.
  electionTicksMin: 10,
  electionTicksMax: 20,
  // A partitioned node rejoining would otherwise bump everyone's term and
  // depose a healthy leader.
  preVote: true,
  // Without it a leader cut off from the majority keeps accepting proposals
  // (which then time out) forever; it is also what makes lease reads sound.
  checkQuorum: true,
  // Lease reads trust bounded clock drift and no process pauses; the default
  // pays one heartbeat round per read batch instead.
  readOnly: 'safe',
  // 1 MiB per append keeps a message far below the wire's frame limit and
  // amortises framing over many small entries.
  maxMsgBytes: 1 << 20,
  // 256 pipelined appends (etcd's default) fills a LAN link without letting a
  // slow follower queue unbounded work.
  maxInflightMsgs: 256,
  // 32 MiB: bounds memory the transport holds for one slow follower.
  maxInflightBytes: 32 << 20,
  // 32 MiB of uncommitted payload: when a quorum is slow, proposers get a
  // clear UNCOMMITTED_CAP error instead of the leader's memory growing.
  maxUncommittedBytes: 32 << 20,
  // 1 MiB chunks: a multi-hundred-MiB snapshot streams with flow control and a
  // lost chunk costs one resend, not the whole snapshot.
  snapshotChunkBytes: 1 << 20,
  // 1 GiB: far above a manager store, far below what would exhaust the heap.
  maxSnapshotBytes: 1 << 30,
  // 500 entries (SwarmKit): a follower a few seconds behind catches up from
  // the log instead of needing a whole snapshot.
  keepEntries: 500,
  // 10,000 entries (SwarmKit): snapshots stay rare while replay on restart
  // stays short.
  snapshotEveryEntries: 10_000,
  // 64 MiB per apply batch keeps one Ready from stalling the event loop.
  maxApplyBytes: 64 << 20,
  // The driver resolves forwarded proposals by tagging their data, so any
  // manager can accept writes.
  forwardProposals: true,
  // Bounds memory if reads arrive faster than heartbeat rounds confirm them.
  maxPendingReads: 4096,
  // Promoting a learner that is far behind would make the new quorum wait
  // for it (a 3-voter cluster growing to 4 needs 3 acks): ~1 s of heavy
  // writes is close enough.
  promotionMaxLag: 1000,
});

/** Fills missing options with defaults and rejects nonsensical ones (our caller's bug, not peer input). */
export function resolveOptions(partial: Partial<RaftOptions> = {}): RaftOptions {
  const o: RaftOptions = { ...DEFAULT_OPTIONS, ...partial };
  const checks: [boolean, string][] = [
    [Number.isInteger(o.heartbeatTicks) && o.heartbeatTicks >= 1, 'heartbeatTicks must be an integer >= 1'],
    [Number.isInteger(o.electionTicksMin) && o.electionTicksMin > o.heartbeatTicks, 'electionTicksMin must exceed heartbeatTicks'],
    [Number.isInteger(o.electionTicksMax) && o.electionTicksMax >= o.electionTicksMin, 'electionTicksMax must be >= electionTicksMin'],
    [o.maxMsgBytes >= 1, 'maxMsgBytes must be >= 1'],
    [Number.isInteger(o.maxInflightMsgs) && o.maxInflightMsgs >= 1, 'maxInflightMsgs must be an integer >= 1'],
    [o.maxInflightBytes >= 0, 'maxInflightBytes must be >= 0'],
    [o.maxUncommittedBytes >= 1, 'maxUncommittedBytes must be >= 1'],
    [Number.isInteger(o.snapshotChunkBytes) && o.snapshotChunkBytes >= 1, 'snapshotChunkBytes must be an integer >= 1'],
    [o.maxSnapshotBytes >= 1, 'maxSnapshotBytes must be >= 1'],
    [Number.isInteger(o.keepEntries) && o.keepEntries >= 0, 'keepEntries must be an integer >= 0'],
    [o.maxApplyBytes >= 1, 'maxApplyBytes must be >= 1'],
    [Number.isInteger(o.maxPendingReads) && o.maxPendingReads >= 1, 'maxPendingReads must be an integer >= 1'],
    [o.readOnly === 'safe' || o.checkQuorum, "readOnly 'lease' requires checkQuorum"],
    [Number.isInteger(o.promotionMaxLag) && o.promotionMaxLag >= 0, 'promotionMaxLag must be an integer >= 0'],
  ];
  for (const [ok, msg] of checks) if (!ok) throw new RangeError(`raft options: ${msg}`);
  return o;
}
