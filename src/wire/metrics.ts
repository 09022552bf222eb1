/**
 * Counters of one transport instance. Plain numbers, incremented on the hot
 * path without allocation; the node's /metrics endpoint exports them.
 */
export interface WireMetrics {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  connectionsOpened: number;
  connectionsClosed: number;
  handshakeFailures: number;
  /** Inbound connections refused: over the cap, or a certificate our CA did not issue. */
  connectionsRefused: number;
  requestTimeouts: number;
  /** Frames received and dropped, by reason (a WireErrorCode or a protocol rule). */
  dropped: Record<string, number>;
}

export function newWireMetrics(): WireMetrics {
  return {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    connectionsOpened: 0,
    connectionsClosed: 0,
    handshakeFailures: 0,
    connectionsRefused: 0,
    requestTimeouts: 0,
    dropped: Object.create(null) as Record<string, number>,
  };
}

export function countDrop(m: WireMetrics, reason: string): void {
  m.dropped[reason] = (m.dropped[reason] ?? 0) + 1;
}
