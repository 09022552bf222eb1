/**
 * Typed store errors. A transaction that fails is rejected as a whole at
 * apply time, deterministically (every manager reaches the same verdict),
 * and its error reaches the proposer as the apply result.
 */
import { policy, ShoalError } from '../../util/errors.js';
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

const storePolicy = policy<StoreErrorCode>([], { NOT_FOUND: 404, NAME_CONFLICT: 409, VERSION_CONFLICT: 409, INVALID: 400, FAILED_PRECONDITION: 409, CAS_MISMATCH: 409 });

export class StoreError extends ShoalError<StoreErrorCode> {
  override readonly name = 'StoreError';
  readonly ns = 'store';
  constructor(
    code: StoreErrorCode,
    message: string,
    /** The offending field, for 400s ("Spec.Name"). */
    readonly field?: string,
  ) {
    super(code, message, storePolicy(code));
  }
}

/** A refused transaction's verdict as a typed error (a verdict names a StoreErrorCode; anything else is INVALID). */
export function verdictError(r: { code: string; message: string; field?: string }): StoreError {
  const code = (r.code in StoreErrorCode ? r.code : StoreErrorCode.INVALID) as StoreErrorCode;
  return new StoreError(code, `${r.code}: ${r.message}`, r.field);
}
