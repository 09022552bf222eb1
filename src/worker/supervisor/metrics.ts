/** Counters of one task supervisor (read through supervisor.hello by the agent). */
export interface SupervisorMetrics {
  started: number;
  exited: number;
  startFailures: number;
  signals: number;
  renewalsSent: number;
  renewalsGranted: number;
  renewalsRefused: number;
}

export function newSupervisorMetrics(): SupervisorMetrics {
  return { started: 0, exited: 0, startFailures: 0, signals: 0, renewalsSent: 0, renewalsGranted: 0, renewalsRefused: 0 };
}
