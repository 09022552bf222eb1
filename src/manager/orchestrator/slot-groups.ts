/**
 * What every kind of service does around its slots (replicated.ts,
 * global.ts, jobs.ts): group its tasks into slots, and once each slot is
 * decided, start delayed keepers, check the one-copy invariant and prune the
 * history.
 */
import type { Task } from '../../model/index.js';
import type { ServiceCtx } from './context.js';
import { pruneSlot } from './history.js';
import { assertSlot, promote, type SlotState } from './slots.js';

export function groupTasks<K>(tasks: readonly Task[], key: (t: Task) => K): Map<K, Task[]> {
  const m = new Map<K, Task[]>();
  for (const t of tasks) {
    const k = key(t);
    const l = m.get(k);
    if (l) l.push(t);
    else m.set(k, [t]);
  }
  return m;
}

/** Promotes delayed keepers, asserts the slot invariant, prunes history; a removed node's goes with it. */
export function finishSlots(sc: ServiceCtx, states: readonly SlotState[], historyLimit: number): void {
  for (const st of states) {
    promote(sc, st);
    assertSlot(sc, st);
  }
  for (const st of states) pruneSlot(sc, st, historyLimit >= 0 && sc.ctx.nodes.isGone(st.nodeId) ? 0 : historyLimit);
}
