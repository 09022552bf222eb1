import { monotonicMs } from '../util/monotonic.js';
import type { Logger } from '../util/log/interface.js';

/**
 * Logs when this process's event loop was blocked: a timer that should fire
 * every `everyMs` notes how late it ran. Stalls are what once made a busy
 * node miss its own heartbeats; the log line says when and how long.
 */
export function watchStalls(log: Logger, opts: { everyMs?: number; reportAboveMs?: number } = {}): () => void {
  const every = opts.everyMs ?? 100;
  const above = opts.reportAboveMs ?? 300;
  let last = monotonicMs();
  const t = setInterval(() => {
    const now = monotonicMs();
    const late = now - last - every;
    last = now;
    if (late > above) log.warn({ stallMs: Math.round(late) }, `event loop stalled for ${Math.round(late)} ms`);
  }, every);
  t.unref();
  return () => clearInterval(t);
}
