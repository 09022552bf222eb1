/**
 * The cluster's dispatcher heartbeat period, Spec.Dispatcher.HeartbeatPeriod
 * (nanoseconds; `docker swarm update --dispatcher-heartbeat`). Two things
 * follow it:
 * - the dispatcher: agents heartbeat every period, and one that misses 3 is
 *   'disconnected' (no new tasks go there), as in SwarmKit;
 * - the fencing lease: a node whose daemon is gone while its task supervisor
 *   still renews keeps its tasks for AGENT_GRACE_PERIODS periods, then they
 *   are replaced. SwarmKit replaces them after the 3 missed heartbeats; Shoal
 *   waits longer so that a daemon restarted within 10 s keeps every task
 *   (live restore), with the default period of 1 s.
 */
import type { Store } from './store/store.js';

export { AGENT_GRACE_PERIODS, MIN_HEARTBEAT_PERIOD_NS } from '../model/index.js';

/** The period in ms, or `fallbackMs` while the cluster object has none (0 or unset). */
export function heartbeatPeriodMs(store: Store, fallbackMs: number): number {
  const ns = store.list('cluster')[0]?.Spec.Dispatcher?.HeartbeatPeriod;
  return ns !== undefined && ns > 0 ? ns / 1e6 : fallbackMs;
}
