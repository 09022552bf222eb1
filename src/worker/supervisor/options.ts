import { LEASE_RENEW_EVERY_MS } from '../../protocol/lease.js';

/**
 * Timings of the node's task supervisor. Each value says why.
 */
export interface SupervisorOptions {
  /**
   * How often the supervisor renews the node's fencing lease with every
   * manager it knows. The managers' fence period F comes back with each
   * grant; this must stay well under it and match the managers' R, so both
   * default to protocol/lease.ts's LEASE_RENEW_EVERY_MS.
   */
  renewEveryMs: number;
  /**
   * The fence wakes at the lease's deadline (a timer moved by each grant).
   * Only while the lease has run out with no task held does it look again,
   * this often, in case a task is started anyway: 20 ms, well inside the
   * managers' 100 ms margin.
   */
  fenceCheckMs: number;
  /** How long a start waits for an oci container's PID (runc/crun create) before failing it. */
  ociStartTimeoutMs: number;
}

export const DEFAULT_SUPERVISOR_OPTIONS: Readonly<SupervisorOptions> = Object.freeze({
  renewEveryMs: LEASE_RENEW_EVERY_MS,
  fenceCheckMs: 20,
  ociStartTimeoutMs: 30_000,
});
