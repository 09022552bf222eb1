import { Histogram, MS_BUCKETS } from '../../util/histogram.js';

/**
 * Counters of the API server (ApiServer.metrics), for tests and the node's
 * /metrics (src/node/metrics/).
 */
export interface ApiMetrics {
  /** Finished requests by `METHOD route status` (route: the router's pattern, or `unmatched`). */
  requests: Map<string, { method: string; route: string; status: number; count: number }>;
  /** Request latency by `METHOD route`, ms: from the request to the end of its response (a followed log stream counts its whole life). */
  requestMs: Map<string, { method: string; route: string; hist: Histogram }>;
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
  return { requests: new Map(), requestMs: new Map(), logStreams: 0, logStreamsDropped: 0, logBytesBuffered: 0, logBytesBufferedPeak: 0, tlsHandshakesRefused: 0, requestsForbidden: 0 };
}

/** One finished request: its status and how long it took. Labels come from the router's patterns, so the series stay few. */
export function countRequest(m: ApiMetrics, method: string, route: string, status: number, ms: number): void {
  const k = `${method} ${route} ${status}`;
  const r = m.requests.get(k);
  if (r) r.count++;
  else m.requests.set(k, { method, route, status, count: 1 });
  const hk = `${method} ${route}`;
  let h = m.requestMs.get(hk);
  if (!h) m.requestMs.set(hk, (h = { method, route, hist: new Histogram(MS_BUCKETS) }));
  h.hist.observe(ms);
}
