/** Election safety as observed: never two managers claiming leadership of the same term. */
import type { ChaosCluster } from '../cluster.js';
import type { LeaderWatcher } from '../observe/leaders.js';
import type { Verdict } from './verdict.js';

export function checkElections(w: LeaderWatcher, c: ChaosCluster): Verdict {
  const details: string[] = [];
  for (const [term, ids] of w.leadersByTerm) {
    if (ids.size > 1) details.push(`term ${term} had ${ids.size} leaders: ${[...ids].map((id) => c.byId(id)?.name ?? id).join(', ')}`);
  }
  return { name: 'election-safety', pass: details.length === 0, summary: `${w.leadersByTerm.size} terms with a leader observed, ${details.length} with two`, details };
}
