/**
 * Election safety: never two leaders in one term. Judged from the Raft
 * drivers' own log lines ("raft <id>: leader, leader <id> (term N)"),
 * written when a node's core hands out the soft-state change to leader:
 * the moment it actually became leader, with the term it won. (The status
 * polled over the control channel is not used for this: its role comes from
 * the driver's soft state, which lags the core while the driver's loop is
 * stuck — e.g. on a full disk — so a stale "leader" can show next to a newer
 * term.)
 */
import type { ChaosCluster } from '../cluster.js';
import type { Verdict } from './verdict.js';

const BECAME_LEADER = /raft (\w+): leader, leader (\w+) \(term (\d+)\)/g;

export function leadersByTerm(c: ChaosCluster): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  for (const n of c.managers()) {
    for (const m of n.proc.stderr.matchAll(BECAME_LEADER)) {
      if (m[1] !== m[2]) continue;
      const term = Number(m[3]);
      const s = out.get(term) ?? new Set<string>();
      s.add(m[1]!);
      out.set(term, s);
    }
  }
  return out;
}

export function checkElections(c: ChaosCluster): Verdict {
  const terms = leadersByTerm(c);
  const details: string[] = [];
  for (const [term, ids] of terms) {
    if (ids.size > 1) details.push(`term ${term} had ${ids.size} leaders: ${[...ids].map((id) => c.byId(id)?.name ?? id).join(', ')}`);
  }
  return { name: 'election-safety', pass: details.length === 0, summary: `${terms.size} terms won, ${details.length} by two leaders`, details };
}
