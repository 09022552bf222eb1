/**
 * Typed HTTP errors of the control API, and the one place that turns errors
 * from the layers below (store verdicts, Raft, the membership layer) into
 * them. Everything a client can cause maps to a 4xx; 500 is left for our own
 * bugs, so a 500 in a log always means something to fix.
 */
import { StoreError, StoreErrorCode } from '../store/errors.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    /** Extra response headers (Retry-After on 503s). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
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
      return conflict(message.startsWith(OUT_OF_SEQUENCE) ? message : `${OUT_OF_SEQUENCE}: ${message}`);
    case StoreErrorCode.INVALID:
      return badRequest(message, field && !message.startsWith(field) ? field : undefined);
    case StoreErrorCode.FAILED_PRECONDITION:
    case StoreErrorCode.CAS_MISMATCH:
      return conflict(message);
    default:
      return new ApiError(500, `${code}: ${message}`);
  }
}

/**
 * Raft and driver errors are recognised by name and code rather than by
 * `instanceof`: the API must not import the Raft driver (and its storage),
 * and an error forwarded from another manager may be a reconstruction.
 */
function codeOf(err: unknown): { name: string; code: string } | null {
  if (typeof err !== 'object' || err === null) return null;
  const { name, code } = err as { name?: unknown; code?: unknown };
  return typeof code === 'string' ? { name: typeof name === 'string' ? name : '', code } : null;
}

/** Raft errors that mean "try again soon": no leader, leader busy, membership change under way. */
const RAFT_RETRYABLE = new Set([
  'NOT_LEADER',
  'PROPOSAL_DROPPED',
  'UNCOMMITTED_CAP',
  'CONF_CHANGE_PENDING',
  'TRANSFER_IN_PROGRESS',
  'TOO_MANY_READS',
  'LEARNER_BEHIND',
]);

/** Turns anything thrown below the API into an ApiError. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreError) return fromStoreVerdict(err.code, err.message, err.field);
  const c = codeOf(err);
  const msg = err instanceof Error ? err.message : String(err);
  if (c) {
    if (c.name === 'RaftError') {
      if (c.code === 'NOT_LEADER') return unavailable(`no leader: the managers have no quorum right now, retry shortly (${msg})`);
      if (RAFT_RETRYABLE.has(c.code)) return unavailable(`the cluster cannot take this request right now, retry shortly (${msg})`);
      if (c.code === 'INVALID_CONF_CHANGE' || c.code === 'INVALID_TRANSFER') return badRequest(msg);
    }
    if (c.name === 'RaftDriverError') {
      if (c.code === 'STOPPED') return unavailable(`this manager is shutting down (${msg})`);
      if (c.code === 'STORAGE_FAILING') return unavailable(`this manager cannot write to its disk; nothing was applied: use another manager (${msg})`);
      // TIMEOUT and LEADER_CHANGED: a write may or may not have been applied.
      return unavailable(`outcome unknown: the request may or may not have been applied; check before retrying (${msg})`);
    }
    if (c.name === 'TokenError' || c.code === 'INVALID_TOKEN') return badRequest(msg);
    // Typed errors from the membership layer (promote/demote/removeNode) that reuse store codes.
    if (c.code in StoreErrorCode) return fromStoreVerdict(c.code, msg, (err as { field?: string }).field);
  }
  return new ApiError(500, `internal error: ${msg}`);
}
