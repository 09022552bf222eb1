/**
 * Monotonic milliseconds: CLOCK_MONOTONIC, the same clock in every thread and
 * every process of one machine (performance.now() is not: each worker thread
 * has its own time origin). Leases and fences use it, so a wall-clock step
 * (NTP, an operator, the chaos harness) can neither end nor extend one.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
