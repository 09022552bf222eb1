/**
 * Typed errors the Raft core throws to its callers (proposers, the driver).
 * Peer input never throws: bad messages are dropped and counted in metrics.
 */
import { policy, ShoalError } from '../util/errors.js';
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

/** Busy, electing or reconfiguring: the same request may succeed shortly (503). Wrong requests are 400; caller bugs 500. */
const raftPolicy = policy<RaftErrorCode>(
  ['NOT_LEADER', 'PROPOSAL_DROPPED', 'UNCOMMITTED_CAP', 'CONF_CHANGE_PENDING', 'TRANSFER_IN_PROGRESS', 'TOO_MANY_READS', 'LEARNER_BEHIND'],
  { NOT_LEADER: 503, PROPOSAL_DROPPED: 503, UNCOMMITTED_CAP: 503, CONF_CHANGE_PENDING: 503, TRANSFER_IN_PROGRESS: 503, TOO_MANY_READS: 503, LEARNER_BEHIND: 503, INVALID_CONF_CHANGE: 400, INVALID_TRANSFER: 400 },
);

export class RaftError extends ShoalError<RaftErrorCode> {
  override readonly name = 'RaftError';
  readonly ns = 'raft';
  constructor(
    code: RaftErrorCode,
    message: string,
    /** The leader this node knows, so the caller can redirect (Raft knows IDs, not addresses). */
    readonly leaderId: NodeId | null = null,
  ) {
    super(code, `${code}: ${message}`, raftPolicy(code, { leader: leaderId === null ? null : { nodeId: leaderId, addr: null } }));
  }
}
