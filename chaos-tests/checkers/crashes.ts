/**
 * No node process crashed: every exit must be one we caused (SIGKILL), and
 * no log may show an uncaught exception or rejection, a fatal record or
 * Node's FATAL line, or a stack trace: in a record's `err` (the API logs one
 * for a 500, the transport for a handler that threw: always a bug) or
 * printed outside the log.
 */
import type { ChaosCluster } from '../cluster.js';
import type { Verdict } from './verdict.js';
import type { LogRecord } from '../../src/util/log/interface.js';
import { readNodeOutput } from '../harness/log-records.js';

const TEXT_PATTERNS: [string, RegExp][] = [
  ['uncaught', /uncaught/i],
  ['FATAL', /FATAL/],
  ['stack trace', /^\s+at .+:\d+:\d+\)?\s*$/],
];

/** What is wrong with one record, or null. */
function recordProblem(r: LogRecord): string | null {
  if (r.level === 'fatal') return 'a fatal record';
  if (/uncaught|unhandled rejection/i.test(r.msg)) return 'an uncaught error';
  const err = r.err as { stack?: unknown } | undefined;
  if (err && typeof err.stack === 'string') return 'a stack trace';
  return null;
}

export function checkCrashes(c: ChaosCluster): Verdict {
  const details: string[] = [];
  for (const n of c.nodes) {
    const extra = n.proc.exits.length - n.killsByUs;
    if (extra > 0) {
      details.push(`${n.name} exited ${extra} time(s) on its own: ${n.proc.exits.map((e) => `code ${e.code} signal ${e.signal}`).join(', ')}`);
    }
    const out = readNodeOutput(n.proc.stdout, n.proc.stderr);
    for (const r of out.records) {
      const what = recordProblem(r);
      if (what) details.push(`${n.name} log shows ${what}: ${JSON.stringify(r).slice(0, 600)}`);
    }
    for (const [what, re] of TEXT_PATTERNS) {
      const i = out.text.findIndex((l) => re.test(l));
      if (i >= 0) details.push(`${n.name} output shows ${what}: ${out.text.slice(Math.max(0, i - 3), i + 3).join(' | ')}`);
    }
  }
  return { name: 'no-crashes', pass: details.length === 0, summary: details.length === 0 ? 'no unexpected exits, no uncaught errors or stack traces in the logs' : `${details.length} problem(s)`, details };
}
