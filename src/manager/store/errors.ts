/**
 * Typed store errors. A transaction that fails is rejected as a whole at
 * apply time, deterministically (every manager reaches the same verdict),
 * and its error reaches the proposer as the apply result.
 */
export const StoreErrorCode = {
  /** The object does not exist (HTTP 404). */
  NOT_FOUND: 'NOT_FOUND',
  /** A name or ID is already taken (HTTP 409). */
  NAME_CONFLICT: 'NAME_CONFLICT',
  /** `?version=N` did not match the object's Version.Index (HTTP 409, "update out of sequence"). */
  VERSION_CONFLICT: 'VERSION_CONFLICT',
  /** The object failed validation (HTTP 400, naming the field). */
  INVALID: 'INVALID',
  /** The operation is refused in this state, e.g. removing a node that is still up (HTTP 412 in Docker, we use 409). */
  FAILED_PRECONDITION: 'FAILED_PRECONDITION',
  /** A compare-and-set on the KV did not match. */
  CAS_MISMATCH: 'CAS_MISMATCH',
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    /** The offending field, for 400s ("Spec.Name"). */
    readonly field?: string,
  ) {
    super(message);
  }
}
