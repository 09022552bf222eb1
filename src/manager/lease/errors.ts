/** Typed errors of the fencing lease. */
import { policy, ShoalError } from '../../util/errors.js';
export const LeaseErrorCode = {
  /** A report reached a manager that does not lead (or cannot confirm it still does). */
  NOT_LEADER: 'NOT_LEADER',
  /** The leader's cluster address is not known yet (a follower cannot report). */
  NO_ADDRESS: 'NO_ADDRESS',
  /** The renewal names another node than the connection's certificate. */
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  /** This node's task supervisor has not been configured yet (a voter addition waits for it). */
  NOT_CONFIGURED: 'NOT_CONFIGURED',
} as const;

export type LeaseErrorCode = (typeof LeaseErrorCode)[keyof typeof LeaseErrorCode];

const leasePolicy = policy<LeaseErrorCode>(['NOT_LEADER'], { NOT_LEADER: 503, NO_ADDRESS: 503, PERMISSION_DENIED: 403, NOT_CONFIGURED: 503 });

export class LeaseError extends ShoalError<LeaseErrorCode> {
  override readonly name = 'LeaseError';
  readonly ns = 'lease';
  constructor(
    code: LeaseErrorCode,
    message: string,
  ) {
    super(code, `${code}: ${message}`, leasePolicy(code));
  }
}
