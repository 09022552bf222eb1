/**
 * Election safety: never two leaders in one term. Judged from the Raft
 * drivers' own log records (component raft, role leader, leader = the
 * record's node, term N),
 * written when a node's core hands out the soft-state change to leader:
 * the moment it actually became leader, with the term it won. (The status
 * polled over the control channel is not used for this: its role comes from
 * the driver's soft state, which lags the core while the driver's loop is
 * stuck — e.g. on a full disk — so a stale "leader" can show next to a newer
 * term.)
 */
import type { ChaosCluster } from '../cluster.js';
import type { Verdict } from './verdict.js';
import { readNodeOutput } from '../harness/log-records.js';

export function leadersByTerm(c: ChaosCluster): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  for (const n of c.managers()) {
    for (const r of readNodeOutput(n.proc.stderr).records) {
      if (r.component !== 'raft' || r.role !== 'leader' || typeof r.node !== 'string' || r.leader !== r.node || typeof r.term !== 'number') continue;
      const s = out.get(r.term) ?? new Set<string>();
      s.add(r.node);
      out.set(r.term, s);
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
