/**
 * Options of the API server, and what every route handler is given.
 */
import type { ManagerContext } from '../interface.js';
import type { ApiMetrics } from './metrics.js';
import type { EventLog } from '../events/event-log.js';
import type { Logger } from '../../util/log/interface.js';

export interface ApiServerOptions {
  /** Request bodies above this are refused with 413 (default 1 MiB). */
  maxBodyBytes?: number;
  /**
   * How far one log reader may fall behind (bytes of log output the manager
   * holds for it, beyond what its socket took) before its stream is ended
   * with a message saying so. The nodes keep sending (their stream has no
   * receive window), so without a bound a reader that stops reading would
   * make the manager buffer without end. Default 8 MiB.
   */
  maxLogBufferBytes?: number;
  /** Shoal's version, shown as the engine version (`docker version`, `docker info`). */
  version?: string;
  /** Where 5xx errors are reported (our bugs, or the cluster being unavailable). */
  /** Records carry component=api. */
  log?: Logger;
  /** The node's Prometheus exposition, served at GET /metrics (absent: 404, as for any unknown path). */
  scrapeMetrics?: () => Promise<{ contentType: string; text: string }>;
  /** This node's gossip view, for the dashboard's cluster view (GET /shoal/health). */
  gossipMembers?: () => { id: string; addr: string; role: string; state: string }[];
}

export const DEFAULT_MAX_LOG_BUFFER_BYTES = 8 * 1024 * 1024;

export const API_VERSION = '1.47';
/** The oldest API version we answer on a /v1.NN path (the docker CLI's own floor). */
export const MIN_API_VERSION = '1.24';

export interface Deps {
  ctx: ManagerContext;
  maxBodyBytes: number;
  maxLogBufferBytes: number;
  metrics: ApiMetrics;
  /** This manager's events (GET /events), made from its store's changes. */
  events: EventLog;
  gossipMembers?: () => { id: string; addr: string; role: string; state: string }[];
  version: string;
  log: Logger;
}
