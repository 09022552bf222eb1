/**
 * Options of the API server, and what every route handler is given.
 */
import type { ManagerContext } from '../interface.js';

export interface ApiServerOptions {
  /** Request bodies above this are refused with 413 (default 1 MiB). */
  maxBodyBytes?: number;
  /** Shoal's version, shown as the engine version (`docker version`, `docker info`). */
  version?: string;
  /** Where 5xx errors are reported (our bugs, or the cluster being unavailable). */
  log?: (msg: string) => void;
}

export const API_VERSION = '1.47';
/** The oldest API version we answer on a /v1.NN path (the docker CLI's own floor). */
export const MIN_API_VERSION = '1.24';

export interface Deps {
  ctx: ManagerContext;
  maxBodyBytes: number;
  version: string;
  log: (msg: string) => void;
}
