/**
 * Waiting with deadlines, never fixed sleeps: poll a condition until it
 * holds or the deadline passes (then fail with a message saying what was
 * awaited and the last observed value).
 *
 * SHOAL_WAIT_TRACE=FILE appends one line per satisfied wait (when, how long,
 * what): where a slow test spends its time.
 */
import { appendFileSync } from 'node:fs';

const trace = process.env.SHOAL_WAIT_TRACE;
const MAX_GAP_MS = 100;
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 10_000, intervalMs = 20, what = 'condition' } = opts;
  const adaptive = opts.intervalMs === undefined;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  const t0 = Date.now();
  let gap = intervalMs;
  for (;;) {
    const started = Date.now();
    try {
      const v = await probe();
      if (v) {
        if (trace) appendFileSync(trace, `${new Date().toISOString()} ${Date.now() - t0} ms ${what.split('\n')[0]}\n`);
        return v as NonNullable<T>;
      }
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    // By default, never probe more than half the time: a probe that spawns a
    // CLI process costs a few hundred ms of CPU, and back-to-back probes
    // starved the very cluster they waited on (and the test file running
    // beside them). And back off, from 20 ms by half again per probe up to
    // 100 ms: a condition that holds soon is seen soon, and one that takes
    // seconds (a node joining, a task healing) costs 10 probes a second, not
    // 50 HTTP requests a second that the node under test must serve. A caller that
    // names its interval keeps that cadence: it times something with the
    // probe (e.g. when endpoints left every load balancer), and a stretched
    // interval would make that time late.
    await new Promise((r) => setTimeout(r, adaptive ? Math.max(gap, Date.now() - started) : intervalMs));
    if (adaptive) gap = Math.min(MAX_GAP_MS, gap * 1.5);
  }
}

/** Resolves with the promise's value, or rejects after `ms` naming `what`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
