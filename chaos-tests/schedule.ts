/**
 * The fault schedule: a pure function of (seed, scenario, duration,
 * topology). Faults come one at a time — inject, hold, heal, a gap — so
 * each recovery is measured on its own and a majority of managers is never
 * down by our hand except in crash-managers, which takes them all down
 * together on purpose. Timing on the real cluster still varies (a restart
 * takes what it takes); the injector starts a fault late rather than
 * overlapping it with the previous one.
 */
import type { Rng } from '../src/util/rng.js';
import type { FaultEvent, FaultKind } from './faults/types.js';

/** Hold time range per kind, ms: long enough that the fault is noticed (fence 1.5 s, election 1–2 s). */
export const HOLD_MS: Record<FaultKind, [number, number]> = {
  'kill-worker': [2_000, 5_000],
  'kill-leader': [1_500, 4_000],
  'kill-follower': [1_500, 4_000],
  'crash-managers': [500, 1_500],
  'pause-worker': [1_000, 5_000],
  'pause-leader': [1_500, 5_000],
  'partition-minority': [3_000, 7_000],
  'partition-leader': [3_000, 6_000],
  'partition-asymmetric': [3_000, 6_000],
  'clock-jump': [3_000, 6_000],
  'disk-full': [3_000, 6_000],
  'disk-full-leader': [3_000, 6_000],
};

/** Quiet time before the first fault (the workload warms up) and between faults. */
export const WARMUP_MS = 2_000;
export const GAP_MS: [number, number] = [1_500, 3_500];

export function makeSchedule(rng: Rng, kinds: [FaultKind, number][], durationMs: number): FaultEvent[] {
  const out: FaultEvent[] = [];
  if (kinds.length === 0) return out;
  const total = kinds.reduce((s, [, w]) => s + w, 0);
  let t = WARMUP_MS;
  while (t < durationMs) {
    let x = rng.next() * total;
    let kind = kinds[kinds.length - 1]![0];
    for (const [k, w] of kinds) {
      if ((x -= w) < 0) {
        kind = k;
        break;
      }
    }
    const [lo, hi] = HOLD_MS[kind];
    const holdMs = rng.range(lo, hi);
    out.push({ seq: out.length + 1, at: t, kind, holdMs, pick: rng.int(2 ** 30) });
    t += holdMs + rng.range(GAP_MS[0], GAP_MS[1]);
  }
  return out;
}
