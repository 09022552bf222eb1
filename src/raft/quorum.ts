/**
 * Majority arithmetic over a voter set. Pure functions so that commit,
 * election and lease decisions are computed the same way everywhere.
 */
import type { NodeId } from './interface.js';

export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The highest value that a majority of voters have reached (e.g. the
 * committable index given each voter's match). 0 for an empty voter set.
 */
export function quorumMin(voters: readonly NodeId[], valueOf: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return 0;
  const vals = new Array<number>(n);
  for (let i = 0; i < n; i++) vals[i] = valueOf(voters[i]!);
  vals.sort((a, b) => b - a);
  return vals[majority(n) - 1]!;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Votes of voters outside `voters` are ignored (the configuration may have changed mid-election). */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'lost';
  let yes = 0;
  let no = 0;
  for (const v of voters) {
    const g = votes.get(v);
    if (g === true) yes++;
    else if (g === false) no++;
  }
  const q = majority(voters.length);
  if (yes >= q) return 'won';
  if (voters.length - no < q) return 'lost';
  return 'pending';
}

export function quorumActive(voters: readonly NodeId[], active: (id: NodeId) => boolean): boolean {
  let n = 0;
  for (const v of voters) if (active(v)) n++;
  return n >= majority(voters.length);
}
