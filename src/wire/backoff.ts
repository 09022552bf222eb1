import type { Rng } from '../util/rng.js';
import type { BackoffOptions } from './options.js';

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
