/**
 * Counters of the API server (ApiServer.metrics), for tests and, later, the
 * [ops] metrics export.
 */
export interface ApiMetrics {
  /** Log responses open now (follow or not). */
  logStreams: number;
  /** Log responses ended because their reader fell more than maxLogBufferBytes behind. */
  logStreamsDropped: number;
  /** Bytes of log output held for readers now: written but not yet taken by their sockets, plus queued. */
  logBytesBuffered: number;
  /** The most any one log response ever held (same measure as logBytesBuffered, per response). */
  logBytesBufferedPeak: number;
  /** TLS connections refused in the handshake (no client certificate, or one another CA signed). */
  tlsHandshakesRefused: number;
  /** Requests refused 403 because the verified client certificate may not use the API (a worker's, another cluster's). */
  requestsForbidden: number;
}

export function newApiMetrics(): ApiMetrics {
  return { logStreams: 0, logStreamsDropped: 0, logBytesBuffered: 0, logBytesBufferedPeak: 0, tlsHandshakesRefused: 0, requestsForbidden: 0 };
}
