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
  /**
   * How long an oci container may be in creation (runc/crun run started, no
   * container PID yet) before its runtime process is killed and the start
   * fails: 30 s. A creation that hangs must not hold a creation slot for
   * ever, or a few of them would stop every oci start on the node.
   */
  ociStartTimeoutMs: number;
  /**
   * How many oci containers may be in creation at once; further starts wait
   * in order. Creating one is a burst of CPU in runc/crun and the kernel: 300
   * at once made 300 runnable processes, among which the node daemon got a
   * sliver of a core and stalled past the fence period. 4: a few per core of
   * the 2-core reference machine. One run each of 300 crun starts there
   * (bench:density, libcrun path, 2026-12-05): 2 at once 12.8 s, 4 10.2 s,
   * 8 9.8 s; more than 4 gained little and leaves the daemon less CPU.
   */
  ociCreatesAtOnce: number;
}

export const DEFAULT_SUPERVISOR_OPTIONS: Readonly<SupervisorOptions> = Object.freeze({
  renewEveryMs: LEASE_RENEW_EVERY_MS,
  fenceCheckMs: 20,
  ociStartTimeoutMs: 30_000,
  ociCreatesAtOnce: 4,
});
