/**
 * The one retry helper. Every loop that repeats an operation until it works
 * goes through it, so each gets the same jittered exponential back-off
 * (util/backoff.ts), the same deadline handling and the same reading of
 * errors: an error is retried when it says it is (`retryable`), and a
 * leader hint sends the next attempt to the leader at once instead of after
 * a back-off.
 *
 * Reconnect loops that never end (the wire's peer links, the agent's
 * session) use Backoff directly: they have no result and no deadline.
 */
import { Backoff, defaultBackoff, type BackoffOptions } from './backoff.js';
import { isRetryable, leaderHintOf, ShoalError, type LeaderHint } from './errors.js';
import { monotonicMs } from './monotonic.js';
import { systemRng, type Rng } from './rng.js';

export interface RetryOptions {
  /** What is being retried, for the error thrown when the deadline passes. */
  what: string;
  /** Give up this long after the first attempt (monotonic). Default 30 s; Infinity retries until `stopped`. */
  deadlineMs?: number;
  /** Give up after this many attempts (default: no limit but the deadline). */
  attempts?: number;
  backoff?: Partial<BackoffOptions>;
  /** Which errors to retry (default: those that say they are retryable). */
  retryable?: (err: unknown) => boolean;
  /** Called before each wait. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Stop early (e.g. the caller is shutting down): the last error is thrown. */
  stopped?: () => boolean;
  /** Follow leader hints at once, at most this many times in a row (default 5; 0 = ignore hints). */
  maxRedirects?: number;
  /** When time or attempts run out: wrap the last error in a RetryExhaustedError (default), or throw it as it is. */
  exhausted?: 'wrap' | 'last';
  rng?: Rng;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface Attempt {
  /** 0 for the first attempt. */
  attempt: number;
  /** The leader the last error pointed to, when the last attempt was redirected. */
  leader: LeaderHint | null;
}

/** Thrown when the deadline or the attempt budget runs out; `cause` is the last error, whose status it keeps. */
export class RetryExhaustedError extends ShoalError<'EXHAUSTED'> {
  override readonly name = 'RetryExhaustedError';
  readonly ns = 'retry';
  constructor(
    message: string,
    readonly last: unknown,
  ) {
    super('EXHAUSTED', message, { retryable: true, status: last instanceof ShoalError ? last.status : 503, cause: last });
  }
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `fn` until it resolves. Non-retryable errors are thrown at once, as
 * they are; when time or attempts run out, a RetryExhaustedError names what
 * was tried and wraps the last error.
 */
export async function retry<T>(fn: (a: Attempt) => Promise<T>, opts: RetryOptions): Promise<T> {
  const now = opts.now ?? monotonicMs;
  const sleep = opts.sleep ?? realSleep;
  const backoff = new Backoff({ ...defaultBackoff, ...opts.backoff }, opts.rng ?? systemRng());
  const canRetry = opts.retryable ?? isRetryable;
  const maxRedirects = opts.maxRedirects ?? 5;
  const deadline = now() + (opts.deadlineMs ?? 30_000);
  let leader: LeaderHint | null = null;
  let redirects = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn({ attempt, leader });
    } catch (err) {
      if (!canRetry(err)) throw err;
      const hint = leaderHintOf(err);
      const spent = (opts.attempts !== undefined && attempt + 1 >= opts.attempts) || now() >= deadline;
      const stopped = opts.stopped?.() ?? false;
      if (stopped || spent) {
        if (stopped || opts.exhausted === 'last') throw err;
        throw new RetryExhaustedError(`${opts.what}: gave up after ${attempt + 1} attempts: ${(err as Error)?.message ?? String(err)}`, err);
      }
      // A redirect to a leader we have not just tried goes there at once; a
      // loop of redirects (two nodes naming each other mid-election) backs off.
      if (hint?.addr && redirects < maxRedirects && hint.addr !== leader?.addr) {
        leader = hint;
        redirects++;
        continue;
      }
      leader = hint?.addr ? hint : null;
      redirects = 0;
      const delay = Math.max(0, Math.min(backoff.next(), deadline - now()));
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}
