/** The dispatcher's counters (sessions, heartbeats, status batches, nodes marked down). */
export interface DispatcherMetrics {
  sessionsOpened: number;
  sessionsRefused: number;
  heartbeats: number;
  nodesDisconnected: number;
  statusUpdates: number;
  statusBatches: number;
  nodesMarkedDown: number;
}
