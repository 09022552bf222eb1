import type { Rng } from './rng.js';

export interface BackoffOptions {
  /** First retry delay: fast enough that a restarted peer is reached in well under a second. */
  initialMs: number;
  /** Cap: a peer gone for good is retried every few seconds, not hammered. */
  maxMs: number;
  /** Growth per failure. */
  factor: number;
  /**
   * Fraction of the delay randomised ("equal jitter"): spreads reconnect
   * storms after a leader restart so every follower does not dial at once.
   */
  jitter: number;
}

/** The wire's reconnect profile, and the retry helper's default. */
export const defaultBackoff: BackoffOptions = {
  initialMs: 50,
  maxMs: 3_000,
  factor: 2,
  jitter: 0.5,
};

/**
 * Exponential back-off with "equal jitter": half the delay is fixed, half is
 * random, so retries spread out (no thundering herd after a leader restart)
 * while the expected delay still grows geometrically.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly rng: Rng,
  ) {}

  next(): number {
    const base = Math.min(this.opts.maxMs, this.opts.initialMs * this.opts.factor ** this.attempt);
    this.attempt++;
    const fixed = base * (1 - this.opts.jitter);
    return Math.round(fixed + this.rng.next() * base * this.opts.jitter);
  }

  reset(): void {
    this.attempt = 0;
  }
}
