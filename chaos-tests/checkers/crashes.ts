/**
 * No node process crashed: every exit must be one we caused (SIGKILL), and
 * no log may show an uncaught exception, a FATAL line or a stack trace
 * (the API logs a stack for a 500, which is always a bug).
 */
import type { ChaosCluster } from '../cluster.js';
import type { Verdict } from './verdict.js';

const PATTERNS: [string, RegExp][] = [
  ['uncaught', /uncaught/i],
  ['FATAL', /FATAL/],
  ['stack trace', /^\s+at .+:\d+:\d+\)?\s*$/m],
];

export function checkCrashes(c: ChaosCluster): Verdict {
  const details: string[] = [];
  for (const n of c.nodes) {
    const extra = n.proc.exits.length - n.killsByUs;
    if (extra > 0) {
      details.push(`${n.name} exited ${extra} time(s) on its own: ${n.proc.exits.map((e) => `code ${e.code} signal ${e.signal}`).join(', ')}`);
    }
    const log = `${n.proc.stdout}\n${n.proc.stderr}`;
    for (const [what, re] of PATTERNS) {
      const m = re.exec(log);
      if (m) {
        const at = log.lastIndexOf('\n', m.index - 1);
        details.push(`${n.name} log shows ${what}: ${log.slice(Math.max(0, at - 300), m.index + 200).trim().split('\n').slice(-6).join(' | ')}`);
      }
    }
  }
  return { name: 'no-crashes', pass: details.length === 0, summary: details.length === 0 ? 'no unexpected exits, no uncaught errors or stack traces in the logs' : `${details.length} problem(s)`, details };
}
