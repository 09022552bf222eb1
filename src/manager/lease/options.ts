import { LEASE_RENEW_EVERY_MS } from '../../protocol/lease.js';

/**
 * Timings of the fencing lease (see core.ts for the protocol and the safety
 * argument). All in milliseconds of monotonic time.
 */
export interface LeaseOptions {
  /**
   * F, the fence period. A node kills its tasks once no manager has granted
   * it a renewal for F (measured from when it sent the renewal), and the
   * managers replace a node's tasks no sooner than its last granted renewal
   * + F + margin. 1 s: a dead machine's tasks are running elsewhere ~1.3 s
   * later, and a live node renews 5 times per period (R), so four lost or
   * late renewals in a row (a loaded host) still cost nothing.
   */
  fenceMs: number;
  /**
   * Slack between a node's fence deadline and the managers' down decision:
   * covers the node's fence (a timer at the deadline, on a thread of its own
   * at a raised priority) firing late on a loaded host, and the kill taking
   * effect (the kernel's, as the supervisor and its forker exit). 100 ms:
   * every millisecond of it is part of every heal.
   */
  marginMs: number;
  /**
   * R, how often a node renews (with every manager) and how often followers
   * report the renewals they granted to the leader: protocol/lease.ts's
   * LEASE_RENEW_EVERY_MS, which the nodes' supervisors keep too, says why.
   */
  renewEveryMs: number;
  /** How often the leader looks for nodes to revoke and revoked nodes whose deadline passed: 25 ms, a scan of the node table. */
  decideEveryMs: number;
  /**
   * H, how long a follower may keep granting renewals after its last report
   * the leader acknowledged. It must outlast a leader election (1–2 s
   * election timeout plus a vote), or every node would fence during one; 3 s.
   * It bounds how long a follower cut off from the leader can keep nodes
   * alive that the leader wants to replace.
   */
  tokenMs: number;
  /**
   * G, how long a node may run tasks with its supervisor renewing but no
   * agent session (the node daemon crashed or hangs) before the managers
   * revoke its lease and replace its tasks. 15 s: a daemon restarted within
   * 10 s (live restore) keeps every task. The cluster's
   * Spec.Dispatcher.HeartbeatPeriod overrides it with 15 × the period
   * (manager/heartbeat-period.ts; 1 s by default, so 15 s).
   */
  agentGraceMs: number;
}

export const DEFAULT_LEASE_OPTIONS: Readonly<LeaseOptions> = Object.freeze({
  fenceMs: 1_000,
  marginMs: 100,
  renewEveryMs: LEASE_RENEW_EVERY_MS,
  decideEveryMs: 25,
  tokenMs: 3_000,
  agentGraceMs: 15_000,
});

export function checkLeaseOptions(o: LeaseOptions): void {
  for (const [k, v] of Object.entries(o)) {
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`lease option ${k} must be a positive number of ms, got ${v}`);
  }
  if (o.renewEveryMs * 3 > o.fenceMs) throw new RangeError(`lease renewEveryMs (${o.renewEveryMs}) must be at most a third of fenceMs (${o.fenceMs}): revocations need two renewal periods to be confirmed before the deadline`);
}
