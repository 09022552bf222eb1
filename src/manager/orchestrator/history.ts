/**
 * Task history: each slot keeps its newest `limit` terminal tasks (what
 * `docker service ps` shows under a running task), older ones are deleted.
 *
 * Counting terminal tasks (the running one does not count) follows the
 * brief; SwarmKit's reaper counts the running task too (limit 5 = 1 running +
 * 4 dead). A task that was stopped but may still run on a live node is not
 * terminal and is never deleted: the agent must still be told to stop it.
 *
 * One exception to the limit: a slot with no live task keeps its newest task
 * even when the limit is 0, because that task is the record of why the slot
 * is empty (its restart policy said no); deleting it would make the next
 * reconcile refill the slot.
 */
import type { ServiceCtx } from './context.js';
import { endedMs } from './model.js';
import type { SlotState } from './slots.js';

export function historyLimit(configured: number | undefined, fallback: number): number {
  return configured !== undefined && Number.isInteger(configured) ? configured : fallback;
}

export function pruneSlot(sc: ServiceCtx, st: SlotState, limit: number): void {
  if (limit < 0) return;
  const plan = sc.ctx.plan;
  const dead = st.tasks.filter((t) => !plan.isDeleted(t) && !plan.isLive(t) && plan.isDead(t));
  const keep = st.keeper === null && limit === 0 && st.wanted ? 1 : limit;
  if (dead.length <= keep) return;
  // Newest end first; ids break ties so every manager picks the same ones.
  dead.sort((a, b) => endedMs(plan.view(b)) - endedMs(plan.view(a)) || (a.ID < b.ID ? 1 : -1));
  if (keep === 1 && limit === 0) {
    // The record kept is the slot's newest task, whatever its end time says.
    const newest = st.tasks.find((t) => !plan.isDeleted(t));
    for (const t of dead) if (t !== newest) plan.delete(st.group, t);
    return;
  }
  for (const t of dead.slice(keep)) plan.delete(st.group, t);
}
