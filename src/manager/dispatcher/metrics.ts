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

export function newDispatcherMetrics(): DispatcherMetrics {
  return { sessionsOpened: 0, sessionsRefused: 0, heartbeats: 0, nodesDisconnected: 0, statusUpdates: 0, statusBatches: 0, nodesMarkedDown: 0 };
}
