/**
 * Replicated services: slots 1..Replicas, each holding one task.
 *
 * Scaling down stops the highest slots (their tasks get desired 'shutdown' and
 * stay in history); scaling up fills the missing slots, lowest first. Keeping
 * slots contiguous makes `docker service ps` readable and a scale-down
 * predictable; SwarmKit instead stops the copies on the busiest nodes first,
 * leaving holes in the numbering (a scheduler rebalancing concern Shoal leaves
 * to the scheduler's spread scoring on the next placements).
 */
import type { Task } from '../../model/index.js';
import type { ServiceCtx } from './context.js';
import { finishSlots, groupTasks } from './slot-groups.js';
import { processSlot } from './slots.js';
import type { SlotState } from './slots.js';
import { planUpdate } from './update.js';

export function reconcileReplicated(sc: ServiceCtx, replicas: number, tasks: readonly Task[], historyLimit: number): void {
  const bySlot = groupTasks(tasks, (t) => t.Slot);
  const keys = new Set<number>(bySlot.keys());
  for (let s = 1; s <= replicas; s++) keys.add(s);
  const states: SlotState[] = [];
  for (const slot of [...keys].sort((a, b) => a - b)) {
    states.push(
      processSlot(sc, {
        slot,
        nodeId: '',
        tasks: bySlot.get(slot) ?? [],
        wanted: slot >= 1 && slot <= replicas,
        canCreate: true,
        updatable: true,
      }),
    );
  }
  planUpdate(sc, states);
  finishSlots(sc, states, historyLimit);
}
