/**
 * Timings of the node's task supervisor. Each value says why.
 */
export interface SupervisorOptions {
  /**
   * How often the supervisor renews the node's fencing lease with every
   * manager it knows. The managers' fence period F comes back with each
   * grant; this must stay well under it (manager/lease/options.ts: F/10).
   */
  renewEveryMs: number;
  /**
   * How often the fence checks the lease. 20 ms: the fence acts within 20 ms
   * of the deadline plus scheduling delay (its thread runs at nice -10), well
   * inside the managers' 100 ms margin; 50 wakeups a second cost nothing.
   */
  fenceCheckMs: number;
  /**
   * How long a start waits for the first lease grant of a freshly configured
   * supervisor before it refuses: a node that just (re)joined renews within
   * one period of its agent's registration.
   */
  startLeaseWaitMs: number;
  /** How long a start waits for an oci container's PID (runc/crun create) before failing it. */
  ociStartTimeoutMs: number;
}

export const DEFAULT_SUPERVISOR_OPTIONS: Readonly<SupervisorOptions> = Object.freeze({
  renewEveryMs: 100,
  fenceCheckMs: 20,
  startLeaseWaitMs: 5_000,
  ociStartTimeoutMs: 30_000,
});
