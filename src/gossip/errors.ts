/**
 * Typed errors the gossip core throws to its local callers (the driver, the
 * node agent). Peer input never throws: a bad or stale message is dropped and
 * counted in metrics (metrics.ts `dropped`).
 */
import { policy, ShoalError } from '../util/errors.js';

export const GossipErrorCode = {
  /** An option is out of range or inconsistent with another (e.g. probe timeout ≥ probe interval). */
  INVALID_OPTIONS: 'INVALID_OPTIONS',
  /** A user broadcast is larger than maxUserPayloadBytes. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** Metadata encodes to more than maxMetaBytes (it rides in every alive message). */
  META_TOO_LARGE: 'META_TOO_LARGE',
  /** The node has left: it no longer broadcasts, joins or changes its metadata. */
  LEFT: 'LEFT',
  /** A push-pull state that fails the schema or names no sender. */
  INVALID_STATE: 'INVALID_STATE',
  /** A caller bug: e.g. a clock that runs backwards, a self config that fails validation. */
  BAD_REQUEST: 'BAD_REQUEST',
  /** A push-pull state our keys cannot open: the peer has another cluster's gossip key. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** This node's gossip has stopped. */
  STOPPED: 'STOPPED',
} as const;

export type GossipErrorCode = (typeof GossipErrorCode)[keyof typeof GossipErrorCode];

const gossipPolicy = policy<GossipErrorCode>([], { PAYLOAD_TOO_LARGE: 400, META_TOO_LARGE: 400, UNAUTHENTICATED: 401, STOPPED: 503 });

export class GossipError extends ShoalError<GossipErrorCode> {
  override readonly name = 'GossipError';
  readonly ns = 'gossip';
  constructor(
    code: GossipErrorCode,
    message: string,
  ) {
    super(code, `${code}: ${message}`, gossipPolicy(code));
  }
}

export function isGossipError(e: unknown, code?: GossipErrorCode): e is GossipError {
  return e instanceof GossipError && (code === undefined || e.code === code);
}
