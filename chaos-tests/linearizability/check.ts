import type { CheckOptions, CheckResult, Model, Operation } from './interface.js';
import { LinearizationSearch } from './search.js';
import { renderWindow } from './window.js';

export const DEFAULT_TIMEOUT_MS = 60_000;
/**
 * Default cap on memoised configurations across all partitions: a memory
 * bound. Measured ~150 bytes each with their states (c50-bad, key "0": 4.7 M
 * configurations, 700 MB RSS), so 10 M stays near 1.5 GB, well inside V8's
 * heap limit, instead of crashing the process or starving a shared machine.
 */
export const DEFAULT_MAX_CONFIGURATIONS = 10_000_000;
/** Search steps per partition per round: ~10 ms, short enough to be fair. */
const SLICE_STEPS = 1 << 14;

/**
 * Checks a history against a model. Uses the model's partition when it has
 * one (P-compositionality: the history is linearizable iff every part is).
 *
 * The parts are searched round-robin, a slice of steps each, rather than one
 * after another: a non-linearizable history usually has some part that fails
 * in milliseconds while another part's exhaustive search would run for
 * minutes (c50-bad: 6 keys fail in < 0.5 s, 4 do not finish in 5 s each).
 * This is the single-threaded form of running the parts in parallel and
 * stopping at the first failure.
 *
 * The verdict is `unknown` when the time or configuration budget runs out
 * before every part is settled and none has failed.
 */
export function check<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  opts: CheckOptions = {},
): CheckResult {
  const started = performance.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxConfigurations = opts.maxConfigurations ?? DEFAULT_MAX_CONFIGURATIONS;
  const deadline = started + timeoutMs;
  const parts = model.partition ? model.partition(ops) : [ops];
  // Constructing a search validates its operations: bad input throws before any work.
  let running = parts.map((part) => new LinearizationSearch(model, part));
  const elapsed = () => performance.now() - started;

  const timedOut = (): CheckResult => ({
    verdict: 'unknown',
    reason: `timed out after ${formatMs(timeoutMs)}`,
    elapsedMs: elapsed(),
  });
  while (running.length > 0) {
    const still: typeof running = [];
    // Configurations held by the searches still alive: finished ones are dropped.
    let explored = 0;
    for (const s of running) {
      const status = s.run(SLICE_STEPS);
      if (status === 'fail') {
        return { verdict: 'not linearizable', window: renderWindow(model, s.ops, s.stuck!), elapsedMs: elapsed() };
      }
      if (status === 'paused') {
        still.push(s);
        // Checked per slice, not per round, so many slow parts cannot overshoot the deadline.
        if (performance.now() > deadline) return timedOut();
      }
      explored += s.explored;
    }
    running = still;
    if (running.length > 0 && explored > maxConfigurations) {
      return {
        verdict: 'unknown',
        reason: `gave up after ${explored} search configurations (maxConfigurations)`,
        elapsedMs: elapsed(),
      };
    }
  }
  return { verdict: 'linearizable', elapsedMs: elapsed() };
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}
