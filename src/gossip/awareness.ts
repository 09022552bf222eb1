/**
 * Lifeguard's Local Health Multiplier (LHM): a saturating counter of evidence
 * that THIS node is the slow one. A node that misses nacks from peers it asked
 * to help, fails probes with no nack-capable helpers, or keeps being suspected
 * by others is probably starved (CPU, GC, network queue). It then probes less
 * often and waits longer for acks, so its own trouble stops turning healthy
 * members into suspects. Successful probes pay the score back down.
 *
 *   score ∈ [0, max − 1]; every probe timeout and the probe interval are
 *   multiplied by (score + 1).
 */
import { assert } from '../util/assert.js';

export class Awareness {
  private score = 0;

  constructor(private readonly max: number) {
    assert(Number.isInteger(max) && max >= 1, 'awareness max must be an integer ≥ 1');
  }

  /** Adds delta (may be negative) and clamps to [0, max − 1]. */
  apply(delta: number): void {
    const s = this.score + delta;
    this.score = s < 0 ? 0 : s > this.max - 1 ? this.max - 1 : s;
  }

  get value(): number {
    return this.score;
  }

  /** A timeout or interval stretched by the current health: t × (score + 1). */
  scale(ms: number): number {
    return ms * (this.score + 1);
  }
}
