/** How a node process is started (`shoal init|join|run` flags, and what tests compose). */
import type { OciRuntimeName, RuntimeName } from '../model/runtime-names.js';
import type { ProfileName } from '../gossip/options.js';
import type { RaftOptions } from '../raft/options.js';
import type { DaemonHooksFactory } from './hooks.js';

export interface DaemonOptions {
  dataDir: string;
  /** Cluster (TCP) and gossip (UDP) address, host:port. Default 127.0.0.1:4242. */
  advertiseAddr?: string;
  /**
   * TCP address of the control API (managers), served only with TLS and
   * client certificates of the cluster CA. Default: none (closed).
   */
  apiAddr?: string;
  /**
   * Also serve GET /metrics (Prometheus) on plain HTTP at this host:port, on
   * any node (dockerd's --metrics-addr). No auth there, and no secrets in it:
   * counters, states and service names only. Managers always serve /metrics on
   * the API as well. Default: none.
   */
  metricsAddr?: string;
  /** The control API's unix socket (managers, mode 0600). Default <data-dir>/api.sock. */
  apiSocket?: string;
  /** Found a new cluster. */
  init?: boolean;
  /** Join an existing cluster through a manager. */
  join?: { token: string; addr: string };
  hostname?: string;
  /** Default task runtime: process (default), oci or docker. */
  runtime?: RuntimeName;
  /** The OCI runtime binary the oci runtime uses: runc (default) or crun. */
  ociRuntime?: OciRuntimeName;
  /** Docker Engine socket for the docker runtime. */
  dockerSocket?: string;
  gossipProfile?: ProfileName;
  tickMs?: number;
  raft?: Partial<RaftOptions>;
  log?: (msg: string) => void;
  /** A test composition root's hooks (hooks.ts); the product passes none. */
  hooks?: DaemonHooksFactory;
}
