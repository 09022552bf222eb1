/** Counters of the fencing lease on one manager. */
export interface LeaseMetrics {
  /** Renewals granted to nodes. */
  grants: number;
  /** Renewals refused (revoked, down, unknown node, no authority or token). */
  refusals: number;
  /** Leader: nodes whose lease was revoked. */
  revocations: number;
  /** Leader: follower reports acknowledged. */
  reportsReceived: number;
  /** Follower: reports the leader acknowledged, and those that failed. */
  reportsAcked: number;
  reportFailures: number;
}

export function newLeaseMetrics(): LeaseMetrics {
  return { grants: 0, refusals: 0, revocations: 0, reportsReceived: 0, reportsAcked: 0, reportFailures: 0 };
}
