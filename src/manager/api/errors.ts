/**
 * Typed HTTP errors of the control API, and the one place that turns errors
 * from the layers below (store verdicts, Raft, the membership layer) into
 * them. Everything a client can cause maps to a 4xx; 500 is left for our own
 * bugs, so a 500 in a log always means something to fix.
 */
import { fromErrorData, ShoalError } from '../../util/errors.js';
import { WireError } from '../../wire/errors.js';
import { StoreError, StoreErrorCode } from '../store/errors.js';

/** The API's own codes, one per status it answers. */
const STATUS_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'TOO_LARGE',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
};

export class ApiError extends ShoalError {
  override readonly name = 'ApiError';
  readonly ns = 'api';
  constructor(
    status: number,
    message: string,
    /** Extra response headers (Retry-After on 503s). */
    readonly headers: Record<string, string> = {},
    /** A finer code than the status's, when a client may branch on it (OUT_OF_SEQUENCE). */
    code?: string,
  ) {
    super(code ?? STATUS_CODES[status] ?? `HTTP_${status}`, message, { status, retryable: status === 503 });
  }
}

/** 400. `field` is prefixed to the message, Docker-style ("Spec.Name: must be …"). */
export function badRequest(message: string, field?: string): ApiError {
  return new ApiError(400, field ? `${field}: ${message}` : message);
}

export function notFound(message: string): ApiError {
  return new ApiError(404, message);
}

export function conflict(message: string): ApiError {
  return new ApiError(409, message);
}

export function unavailable(message: string): ApiError {
  return new ApiError(503, message, { 'Retry-After': '1' });
}

export function notImplemented(message: string): ApiError {
  return new ApiError(501, message);
}

/** Docker's wording for a stale `?version=N`; the CLI users know it. */
export const OUT_OF_SEQUENCE = 'update out of sequence';

/** Maps a store verdict (an apply result or a thrown StoreError) to an HTTP error. */
export function fromStoreVerdict(code: string, message: string, field?: string): ApiError {
  switch (code) {
    case StoreErrorCode.NOT_FOUND:
      return notFound(message);
    case StoreErrorCode.NAME_CONFLICT:
      return conflict(message);
    case StoreErrorCode.VERSION_CONFLICT:
      return new ApiError(409, message.startsWith(OUT_OF_SEQUENCE) ? message : `${OUT_OF_SEQUENCE}: ${message}`, {}, 'OUT_OF_SEQUENCE');
    case StoreErrorCode.INVALID:
      return badRequest(message, field && !message.startsWith(field) ? field : undefined);
    case StoreErrorCode.FAILED_PRECONDITION:
    case StoreErrorCode.CAS_MISMATCH:
      return conflict(message);
    default:
      return new ApiError(500, `${code}: ${message}`);
  }
}

/** Turns anything thrown below the API into an ApiError, by its qualified code and status (util/errors.ts). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreError) return fromStoreVerdict(err.code, err.message, err.field);
  const msg = err instanceof Error ? err.message : String(err);
  // An error forwarded from another manager arrives as a WireError whose `remote` is the original.
  const e = err instanceof WireError && err.remote ? fromErrorData(err.remote) : err;
  if (!(e instanceof ShoalError)) return new ApiError(500, `internal error: ${msg}`);
  switch (e.qualifiedCode) {
    case 'raft.NOT_LEADER':
      return unavailable(`no leader: the managers have no quorum right now, retry shortly (${msg})`);
    case 'raft-driver.STOPPED':
      return unavailable(`this manager is shutting down (${msg})`);
    case 'raft-driver.STORAGE_FAILING':
      return unavailable(`this manager cannot write to its disk; nothing was applied: use another manager (${msg})`);
    case 'raft-driver.TIMEOUT':
    case 'raft-driver.LEADER_CHANGED':
      return unavailable(`outcome unknown: the request may or may not have been applied; check before retrying (${msg})`);
  }
  if (e.ns === 'raft' && e.retryable) return unavailable(`the cluster cannot take this request right now, retry shortly (${msg})`);
  // The store's verdicts have Docker's wording (update out of sequence, Field: …); a forwarded one too.
  if (e.ns === 'store') return fromStoreVerdict(e.code, msg, (e as { field?: string }).field);
  if (e.status === 503) return unavailable(msg);
  if (e.status >= 400 && e.status < 500) return new ApiError(e.status, msg);
  return new ApiError(500, `internal error: ${msg}`);
}
