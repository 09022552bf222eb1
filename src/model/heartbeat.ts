/**
 * The cluster's dispatcher heartbeat period (Spec.Dispatcher.HeartbeatPeriod)
 * and what follows from it, as the API, the managers and the CLI state it:
 * manager/heartbeat-period.ts applies it.
 */

/** A node whose daemon is gone keeps its tasks for this many periods (15 s at the default 1 s: live restore). */
export const AGENT_GRACE_PERIODS = 15;

/** The shortest period a cluster may set: under 100 ms a loaded manager would disconnect healthy agents. */
export const MIN_HEARTBEAT_PERIOD_NS = 100e6;
