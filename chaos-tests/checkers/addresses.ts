/**
 * IPAM under faults: in every sample of the cluster's tasks, no address on a
 * network belongs to two tasks that have not ended. The store allocates
 * inside Raft's apply (manager/store/network-alloc.ts) and frees an address
 * only when its task reaches a terminal state, so a failover, a lost leader
 * or a replayed proposal must never hand one address to two live tasks.
 */
import { isTerminal, type TaskState } from '../../src/model/index.js';
import type { TaskSample } from '../observe/tasks.js';
import type { Verdict } from './verdict.js';

export function checkAddresses(samples: readonly TaskSample[]): Verdict & { addresses: number } {
  const details: string[] = [];
  const seen = new Set<string>();
  for (const s of samples) {
    const owner = new Map<string, string>();
    for (const t of s.tasks) {
      if (isTerminal(t.state as TaskState)) continue;
      for (const a of t.addrs) {
        seen.add(a);
        const other = owner.get(a);
        if (other && other !== t.id) {
          if (details.length < 20) details.push(`at ${Math.round(s.t)} ms: ${a} held by live tasks ${other} and ${t.id}`);
        } else owner.set(a, t.id);
      }
    }
  }
  const pass = details.length === 0;
  return {
    name: 'addresses',
    pass,
    addresses: seen.size,
    summary: pass ? `no address held by two live tasks in ${samples.length} samples (${seen.size} addresses seen)` : `an address was held by two live tasks`,
    details,
  };
}
