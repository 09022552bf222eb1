/** The dispatcher's timings, each with its reason. */
export interface DispatcherOptions {
  /**
   * The heartbeat period a new cluster starts with (`shoal init` stores it as
   * Spec.Dispatcher.HeartbeatPeriod; from then on the cluster's value rules,
   * manager/heartbeat-period.ts). 1 s (Swarm: 5 s), so a dead agent is
   * noticed in ~3 s.
   */
  heartbeatMs: number;
  /**
   * An agent is disconnected after this many missed heartbeats. That only
   * marks the node 'disconnected' (no new tasks go there): whether its tasks
   * are replaced is the fencing lease's decision (manager/lease), which hears
   * the node's task supervisor, not its agent.
   */
  missedHeartbeats: number;
  /** Status reports are batched into one Raft transaction at most this often. */
  statusFlushMs: number;
  /**
   * The longest the stop of a task is held back while some node has not yet
   * applied a network plan without it (connection draining: no load balancer
   * sends it a new connection once it gets SIGTERM). A node that does not
   * answer — partitioned, stalled — cannot hold a stop longer than this. 2 s:
   * an apply takes tens of ms; a loaded 2-core machine has been seen taking
   * several hundred.
   */
  lbDrainHoldMs: number;
}

export const defaultDispatcherOptions: DispatcherOptions = { heartbeatMs: 1_000, missedHeartbeats: 3, statusFlushMs: 25, lbDrainHoldMs: 2_000 };
