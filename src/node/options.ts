/** How a node process is started (`shoal init|join|run` flags, and what tests compose). */
import type { OciRuntimeName, RuntimeName } from '../model/runtime-names.js';
import type { ProfileName } from '../gossip/options.js';
import type { RaftOptions } from '../raft/options.js';
import type { DaemonHooksFactory } from './hooks.js';
import type { Logger } from '../util/log/interface.js';
import type { NodeLogReader } from '../protocol/logs.js';

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
  /** The process's root logger (none: silent); the daemon binds node, each part its component. */
  log?: Logger;
  /** Reads this process's log back (`shoal node logs`); none: the node answers that it keeps no log. */
  logReader?: NodeLogReader;
  /** Records written by this process so far, by level (for /metrics). */
  logRecords?: () => ReadonlyMap<string, number>;
  /** A test composition root's hooks (hooks.ts); the product passes none. */
  hooks?: DaemonHooksFactory;
}
