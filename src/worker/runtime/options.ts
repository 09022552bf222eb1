import path from 'node:path';
import { DEFAULT_LOG_ROTATION, type LogRotation } from './common/log-format.js';
import type { SupervisorClient } from '../supervisor/client.js';
import type { BlobSource } from './images/registry.js';
import type { ImageSummary } from './images/types.js';
import { silentLogger, type Logger } from '../../util/log/interface.js';

/** How a node's runtimes are set up. Only dataDir is required. */
export interface RuntimeOptions {
  /** The node's data dir: task state goes under <dataDir>/runtime/<name>, images under <dataDir>/images. */
  dataDir: string;
  /** Overrides <dataDir>/runtime/<name>. */
  stateDir?: string;
  /** Overrides <dataDir>/images (the node-local image store the oci runtime runs from). */
  imageDir?: string;
  /**
   * Parent of the per-task cgroups (process and oci runtimes). Relative
   * (default "shoal"): under the agent's own cgroup, as runc resolves a
   * relative cgroupsPath — tasks stay inside whatever confines the node.
   * Absolute ("/shoal"): under each hierarchy's root, Docker-style.
   */
  cgroupParent?: string;
  /** Size-based log rotation (default 10 MiB × 3 files). */
  logRotation?: LogRotation;
  /**
   * The node's task supervisor, shared by the process and oci runtimes
   * (the daemon passes one). Without it each runtime starts a private one
   * under its state dir (tests, standalone use).
   */
  supervisor?: SupervisorClient;
  oci?: {
    /** Default OCI runtime binary when a task does not pick one with options.ociRuntime. */
    runtime?: 'runc' | 'crun';
    runcPath?: string;
    crunPath?: string;
    /** false: copy the image rootfs per task instead of an overlay mount. */
    overlay?: boolean;
    /**
     * Where pulls get the blobs this node lacks (registry.ts BlobSource): in
     * a cluster, the one peer every node asks for a given blob, so the
     * registry is read once per blob per cluster. Default: the registry.
     */
    blobSource?: BlobSource;
    /**
     * Builds an image no registry names from a node of the cluster that has
     * it (imported there): how `shoal image import` on one node serves all.
     * Null when none has it. Default: none (the image must be here).
     */
    peerImages?: (name: string) => Promise<ImageSummary | null>;
  };
  docker?: {
    /** Docker Engine socket (default /var/run/docker.sock, or DOCKER_HOST=unix://…). */
    socketPath?: string;
    /** HostConfig.NetworkMode for task containers (default "host", like the other runtimes for now). */
    network?: string;
  };
  /** Diagnostics (default: none); records carry component=runtime and the runtime's name. */
  log?: Logger;
}

export interface ResolvedCommon {
  stateDir: string;
  imageDir: string;
  cgroupParent: string;
  rotation: LogRotation;
  supervisor?: SupervisorClient;
  log: Logger;
}

export function resolveCommon(name: string, o: RuntimeOptions): ResolvedCommon {
  return {
    stateDir: o.stateDir ?? path.join(o.dataDir, 'runtime', name),
    imageDir: o.imageDir ?? path.join(o.dataDir, 'images'),
    cgroupParent: (o.cgroupParent ?? 'shoal').replace(/\/+$/, '') || 'shoal',
    rotation: o.logRotation ?? DEFAULT_LOG_ROTATION,
    ...(o.supervisor ? { supervisor: o.supervisor } : {}),
    log: (o.log ?? silentLogger).child({ component: 'runtime', runtime: name }),
  };
}

/** PATH for tasks and helper processes when the spec does not set one (Docker's default). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
