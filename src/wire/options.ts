/**
 * Defaults of the wire layer. Each value carries why it is what it is.
 */

export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024; // 16 MiB: a Raft snapshot chunk is 1 MiB, a full assignment set for a big node is a few MiB; anything larger is a bug or an attack.

export interface ConnectionOptions {
  /** Largest frame accepted or sent, checked before decoding. */
  maxFrameBytes: number;
  /** Default timeout of `request()`; Raft and the dispatcher pass their own. */
  requestTimeoutMs: number;
  /**
   * Send a keepalive ping after this much send-idleness. 250 ms keeps a
   * dead peer's detection (idleTimeoutMs) well inside the 2 s the dispatcher
   * and Raft rely on, at ~8 tiny frames/s per idle connection.
   */
  keepaliveIntervalMs: number;
  /**
   * Close the connection when nothing at all was received for this long.
   * TCP notices a killed process at once (RST), but not a paused process, a
   * dead machine, or a UDP-based stream (hyperswarm): this is what catches
   * those. 1.2 s = ~5 missed keepalives, tolerant of a GC pause on a loaded
   * 2-core machine; with the 250 ms check interval a vanished peer is noticed
   * within ~1.45 s, inside the 2 s the conformance suite demands.
   */
  idleTimeoutMs: number;
  /** Time allowed for the hello/welcome exchange after the socket opens. */
  handshakeTimeoutMs: number;
  /**
   * Buffered outbound bytes above which `Stream.write` reports back-pressure.
   * 4 MiB: a few snapshot chunks in flight, bounded memory per peer.
   */
  highWaterMarkBytes: number;
}

export const defaultConnectionOptions: ConnectionOptions = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  requestTimeoutMs: 5_000,
  keepaliveIntervalMs: 250,
  idleTimeoutMs: 1_200,
  handshakeTimeoutMs: 3_000,
  highWaterMarkBytes: 4 * 1024 * 1024,
};

/** Back-off lives with the retry helper (src/util); the wire re-exports it for its callers. */
export { defaultBackoff, type BackoffOptions } from '../util/backoff.js';
