/**
 * Lifeguard's dynamic suspicion timeout for one suspected member.
 *
 * The timer starts at `max` and shrinks toward `min` as independent members
 * confirm the suspicion: after c of the k wanted confirmations the total
 * timeout is  max − (max − min) × log(c + 1) / log(k + 1),  never below min
 * (memberlist's remainingSuspicionTime). One member's lone suspicion, likely
 * caused by its own trouble, therefore waits long (giving the suspect time to
 * refute); a failure seen by many is declared fast.
 *
 * Pure: the core keeps the deadline in its timer heap and asks `deadline()`
 * again after every new confirmation.
 */
import type { NodeId } from './interface.js';

export class Suspicion {
  /** Confirmations counted (the original suspector excluded). */
  private n = 0;
  private readonly seen = new Set<NodeId>();
  /** Verification probes that went unanswered (core.ts). */
  verifyAttempts = 0;
  /** A verification probe is in flight. */
  verifying = false;

  constructor(
    /** The member whose suspicion started the timer: its own echo is not a confirmation. */
    from: NodeId,
    readonly k: number,
    readonly minMs: number,
    readonly maxMs: number,
    readonly startMs: number,
  ) {
    this.seen.add(from);
  }

  get confirmations(): number {
    return this.n;
  }

  /**
   * Registers `from` as having suspected the member too. True when it is new
   * information (a new distinct confirmer while still short of k): the caller
   * re-gossips the suspicion so confirmations reach everyone.
   */
  confirm(from: NodeId): boolean {
    if (this.n >= this.k) return false;
    if (this.seen.has(from)) return false;
    this.seen.add(from);
    this.n++;
    return true;
  }

  /** Absolute time at which the member is declared dead. */
  deadline(): number {
    return this.startMs + timeoutAfter(this.n, this.k, this.minMs, this.maxMs);
  }
}

/** Total suspicion timeout after `n` of `k` confirmations (k = 0: min at once). */
export function timeoutAfter(n: number, k: number, minMs: number, maxMs: number): number {
  if (k <= 0) return minMs;
  const frac = Math.log(n + 1) / Math.log(k + 1);
  const raw = Math.floor(maxMs - frac * (maxMs - minMs));
  return raw < minMs ? minMs : raw;
}
