/**
 * Plain counters the core bumps; the driver exports them (and the simulator
 * asserts on them). No histograms: the core has no clock.
 */

export const DROP_REASONS = [
  /** Fails a semantic check the schema cannot express (non-contiguous entries, term 0 entries, …). */
  'malformed',
  /** Addressed to another node. */
  'wrongRecipient',
  /** Claims to come from this node. */
  'fromSelf',
  /** From a node outside the configuration, of a kind only members may send. */
  'unknownPeer',
  /** Lower term than ours (after any reply that tells the sender to step down). */
  'staleTerm',
  /** Vote request while we still hear from a live leader (leader lease). */
  'inLease',
  /** Well-formed but meaningless in our role/state (e.g. a response nobody asked for, a replayed ack). */
  'unexpected',
  /** Snapshot larger than maxSnapshotBytes, or chunks that do not add up. */
  'badSnapshot',
  /** Forwarded proposals the leader refused (transfer under way, cap reached, not leader any more). */
  'proposal',
  /** Forwarded ReadIndex the leader could not take (not leader, too many pending). */
  'readIndex',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export interface RaftMetrics {
  dropped: Record<DropReason, number>;
  messagesIn: number;
  messagesOut: number;
  preElections: number;
  elections: number;
  becameLeader: number;
  /** Leader stepped down because CheckQuorum failed. */
  checkQuorumStepDowns: number;
  proposalsAppended: number;
  proposalsForwarded: number;
  /** Local propose() calls refused with a RaftError. */
  proposalsRefused: number;
  snapshotsStarted: number;
  snapshotChunksSent: number;
  snapshotsInstalled: number;
  readIndexServed: number;
  transfersStarted: number;
  transfersAborted: number;
  /** Configuration entries appended to this node's log (they take effect on append). */
  confEntries: number;
}

export function newMetrics(): RaftMetrics {
  const dropped = {} as Record<DropReason, number>;
  for (const r of DROP_REASONS) dropped[r] = 0;
  return {
    dropped,
    messagesIn: 0,
    messagesOut: 0,
    preElections: 0,
    elections: 0,
    becameLeader: 0,
    checkQuorumStepDowns: 0,
    proposalsAppended: 0,
    proposalsForwarded: 0,
    proposalsRefused: 0,
    snapshotsStarted: 0,
    snapshotChunksSent: 0,
    snapshotsInstalled: 0,
    readIndexServed: 0,
    transfersStarted: 0,
    transfersAborted: 0,
    confEntries: 0,
  };
}

export function totalDropped(m: RaftMetrics): number {
  let n = 0;
  for (const r of DROP_REASONS) n += m.dropped[r];
  return n;
}
