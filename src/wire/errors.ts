/**
 * Typed errors of the wire layer. Every failure to decode, validate, send or
 * receive a frame surfaces as a WireError with a stable code, so callers can
 * count and branch on it instead of parsing messages.
 */
import { ShoalError, type ErrorData } from '../util/errors.js';

export const WireErrorCode = {
  /** Frame bigger than the configured maximum; checked before decoding. */
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  /** Bytes that are not a msgpack envelope. */
  MALFORMED_FRAME: 'MALFORMED_FRAME',
  /** Envelope names a message type nobody registered. */
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  /** Envelope's protocol version is outside what this node accepts for the type. */
  BAD_VERSION: 'BAD_VERSION',
  /** Body failed the type's runtime validator. */
  INVALID_BODY: 'INVALID_BODY',
  /** A request got no response within its timeout. */
  TIMEOUT: 'TIMEOUT',
  /** The connection closed (or was never open) while the operation was pending. */
  CLOSED: 'CLOSED',
  /** Dial failed: refused, unreachable, or gave up. */
  CONNECT_FAILED: 'CONNECT_FAILED',
  /** Handshake did not complete, or the peer is not who we dialled. */
  HANDSHAKE_FAILED: 'HANDSHAKE_FAILED',
  /** The remote handler answered a request with an error. */
  REMOTE_ERROR: 'REMOTE_ERROR',
  /** No handler registered for a request type on the remote side. */
  NO_HANDLER: 'NO_HANDLER',
  /** Attempt to register the same message type twice, or a bad registration. */
  REGISTRY: 'REGISTRY',
} as const;

export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode];

/** A peer restarting or a network blip: the same request may work on a new connection. */
const RETRYABLE = new Set<WireErrorCode>(['TIMEOUT', 'CLOSED', 'CONNECT_FAILED']);

export class WireError extends ShoalError<WireErrorCode> {
  override readonly name = 'WireError';
  readonly ns = 'wire';
  constructor(
    code: WireErrorCode,
    message: string,
    /** Message type involved, when known. */
    readonly type?: string,
    /**
     * REMOTE_ERROR: what the remote handler threw, as it sent it. Its
     * retryable, status and leader hint become this error's, so a caller reads
     * them the same way whether the error was raised here or there.
     */
    readonly remote?: ErrorData,
  ) {
    super(
      code,
      message,
      remote
        ? { retryable: remote.retryable ?? false, status: remote.status ?? 500, leader: remote.leader ?? null }
        : { retryable: RETRYABLE.has(code), status: code === 'NO_HANDLER' ? 501 : 503 },
    );
  }

  /** The remote error's qualified code (`manager.INVALID_TOKEN`), for REMOTE_ERROR. */
  get remoteCode(): string | undefined {
    return this.remote?.code;
  }
}

export function isWireError(e: unknown, code?: WireErrorCode): e is WireError {
  return e instanceof WireError && (code === undefined || e.code === code);
}
