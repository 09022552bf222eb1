/** The dispatcher's timings, each with its reason. */
export interface DispatcherOptions {
  /** Agents heartbeat this often. 1 s (Swarm: 5 s), so a dead agent is noticed in ~3 s. */
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
}

export const defaultDispatcherOptions: DispatcherOptions = { heartbeatMs: 1_000, missedHeartbeats: 3, statusFlushMs: 25 };
