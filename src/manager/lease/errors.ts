/** Typed errors of the fencing lease. */
export const LeaseErrorCode = {
  /** A report reached a manager that does not lead (or cannot confirm it still does). */
  NOT_LEADER: 'NOT_LEADER',
  /** The leader's cluster address is not known yet (a follower cannot report). */
  NO_ADDRESS: 'NO_ADDRESS',
} as const;

export type LeaseErrorCode = (typeof LeaseErrorCode)[keyof typeof LeaseErrorCode];

export class LeaseError extends Error {
  override readonly name = 'LeaseError';
  constructor(
    readonly code: LeaseErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}
