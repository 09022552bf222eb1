/**
 * Jobs: services whose tasks run to completion, once per run (SwarmKit's
 * ReplicatedJob and GlobalJob).
 *
 *  - ReplicatedJob {MaxConcurrent, TotalCompletions}: slots 0..TotalCompletions-1
 *    (SwarmKit numbers a job's slots from 0, and the docker CLI's job progress
 *    display counts on it),
 *    one completion each; at most MaxConcurrent of them hold a task at once,
 *    lowest slots first. A slot is done once its task of the current run
 *    completed (exit 0): the restart policy (on-failure for jobs, the API
 *    makes sure) then starts nothing more there. A failed task is restarted
 *    by that policy, in its slot.
 *  - GlobalJob: one run to completion on every eligible node, the nodes that
 *    join later included (as a global service places them).
 *  - A new spec starts a new run (the API moves Service.JobStatus.JobIteration):
 *    tasks of the earlier run are stopped, and every slot starts over. There
 *    is no rolling update.
 *
 * The slot machinery is the replicated and global services' (slots.ts): one
 * copy per slot, restart delays, and stopping before replacing all hold for
 * jobs too.
 */
import { isTerminal } from '../../model/index.js';
import type { Task } from '../../model/index.js';
import type { ServiceCtx } from './context.js';
import { nodeSlots } from './global.js';
import { finishSlots, groupTasks } from './slot-groups.js';
import { processSlot } from './slots.js';
import type { SlotState } from './slots.js';

export function reconcileReplicatedJob(sc: ServiceCtx, maxConcurrent: number, total: number, tasks: readonly Task[], historyLimit: number): void {
  const plan = sc.ctx.plan;
  const bySlot = groupTasks(tasks, (t) => t.Slot);
  // Slots already running a task of this run count against MaxConcurrent before any new one starts.
  const busy = new Set<number>();
  for (const [s, l] of bySlot) if (s >= 0 && s < total && l.some((t) => sc.isCurrent(t) && plan.isLive(t) && !isTerminal(plan.statusOf(t)))) busy.add(s);
  let active = busy.size;
  // The slots that have tasks, and the lowest unused ones a new task may go to: never all of
  // 0..TotalCompletions-1, which may be 10^12 (only MaxConcurrent is bounded, by the API).
  const keys = new Set<number>(bySlot.keys());
  let room = Math.max(0, maxConcurrent - active);
  for (let s = 0; s < total && room > 0; s++) {
    if (bySlot.has(s)) continue;
    keys.add(s);
    room--;
  }
  const states: SlotState[] = [];
  for (const slot of [...keys].sort((a, b) => a - b)) {
    const slotTasks = bySlot.get(slot) ?? [];
    const inJob = slot >= 0 && slot < total;
    const st = processSlot(sc, {
      slot,
      nodeId: '',
      tasks: slotTasks,
      wanted: inJob,
      canCreate: active < maxConcurrent,
      updatable: false,
    });
    if (!busy.has(slot) && st.created.length > 0) active++;
    states.push(st);
  }
  finishSlots(sc, states, historyLimit);
}

export function reconcileGlobalJob(sc: ServiceCtx, tasks: readonly Task[], historyLimit: number): void {
  const states = nodeSlots(sc, tasks, false);
  if (states !== null) finishSlots(sc, states, historyLimit);
}
