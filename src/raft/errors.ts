/**
 * Typed errors the Raft core throws to its callers (proposers, the driver).
 * Peer input never throws: bad messages are dropped and counted in metrics.
 */
import type { NodeId } from './interface.js';

export const RaftErrorCode = {
  /** The proposal was not appended (e.g. leadership transfer under way, or forwarding disabled). Retry later. */
  PROPOSAL_DROPPED: 'PROPOSAL_DROPPED',
  /** This node is not the leader (and cannot forward); `leader` names the one it knows, if any. */
  NOT_LEADER: 'NOT_LEADER',
  /** The leader already holds maxUncommittedBytes of uncommitted proposals: back off. */
  UNCOMMITTED_CAP: 'UNCOMMITTED_CAP',
  /** Another configuration change is not yet committed, or the leader has not committed in its term yet. */
  CONF_CHANGE_PENDING: 'CONF_CHANGE_PENDING',
  /** A leadership transfer is under way. */
  TRANSFER_IN_PROGRESS: 'TRANSFER_IN_PROGRESS',
  /** The configuration change makes no sense (e.g. removing the last voter, adding an existing voter). */
  INVALID_CONF_CHANGE: 'INVALID_CONF_CHANGE',
  /** A learner asked to be promoted has not caught up with the leader's log yet (options.promotionMaxLag). */
  LEARNER_BEHIND: 'LEARNER_BEHIND',
  /** The transfer target is not a voter, or unknown. */
  INVALID_TRANSFER: 'INVALID_TRANSFER',
  /** Too many ReadIndex requests outstanding. */
  TOO_MANY_READS: 'TOO_MANY_READS',
  /** An API call that is not allowed now (e.g. compact beyond applied): a caller bug. */
  BAD_REQUEST: 'BAD_REQUEST',
} as const;

export type RaftErrorCode = (typeof RaftErrorCode)[keyof typeof RaftErrorCode];

export class RaftError extends Error {
  override readonly name = 'RaftError';
  constructor(
    readonly code: RaftErrorCode,
    message: string,
    /** The leader this node knows, so the caller can redirect. */
    readonly leader: NodeId | null = null,
  ) {
    super(`${code}: ${message}`);
  }
}
