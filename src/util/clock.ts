/**
 * This process's wall clock, with an offset the chaos harness can shift
 * (SHOAL_CHAOS=1 only): a clock jump in one node is emulated by moving
 * `now()` forward or back. Only the places where a manager stamps times
 * (Manager.now) and hands the orchestrator its `now` read it; the pure cores
 * already take time from outside, and timers keep running on real time,
 * exactly as they would across a real NTP step.
 */
let offsetMs = 0;

/** Epoch milliseconds, shifted by the chaos offset (0 in normal runs). */
export function now(): number {
  return Date.now() + offsetMs;
}

/** The current offset in ms (positive = this process runs ahead). */
export function clockOffset(): number {
  return offsetMs;
}

/** Sets the offset (absolute, not cumulative). Used by the chaos control channel only. */
export function setClockOffset(ms: number): void {
  if (!Number.isFinite(ms)) throw new RangeError(`clock offset must be a finite number of ms, got ${ms}`);
  offsetMs = ms;
}
