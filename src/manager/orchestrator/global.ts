/**
 * Global services: one task per eligible node.
 *
 *  - active + ready + constraints hold: the node gets a task (created with its
 *    NodeID; the scheduler only checks resources);
 *  - paused: existing tasks stay, nothing new is started, an exited task is
 *    not restarted (SwarmKit);
 *  - 'unknown' / 'disconnected' (a node between heartbeats, e.g. right after a
 *    leader change): existing tasks stay, nothing new until it is ready again;
 *  - drained, down, removed, or no longer matching the constraints: its tasks
 *    are stopped. There is nowhere else to run them.
 *
 * Rolling updates go node by node; nodes that are paused or not ready are
 * skipped so they cannot stall the update (their tasks are replaced once the
 * node is back).
 */
import type { Task } from '../../model/index.js';
import { nodeMatches, parseConstraints } from './constraints.js';
import type { ServiceCtx } from './context.js';
import { finishSlots, groupTasks } from './slot-groups.js';
import { processSlot } from './slots.js';
import type { SlotState } from './slots.js';
import { planUpdate } from './update.js';

export function reconcileGlobal(sc: ServiceCtx, tasks: readonly Task[], historyLimit: number): void {
  const states = nodeSlots(sc, tasks, true);
  if (states === null) return;
  planUpdate(sc, states);
  finishSlots(sc, states, historyLimit);
}

/**
 * One slot per node (global services and global jobs): every node that has
 * tasks of the service or could get one, processed in node-id order. Null
 * when the constraints do not parse: stopping every task because of a typo
 * would be worse than leaving the service as it is.
 */
export function nodeSlots(sc: ServiceCtx, tasks: readonly Task[], updatable: boolean): SlotState[] | null {
  const { nodes, plan } = sc.ctx;
  const parsed = parseConstraints(sc.template.Placement?.Constraints);
  if (!parsed.ok) {
    plan.problem(`service ${sc.service.ID}: ${parsed.error}; left as it is`);
    return null;
  }
  const byNode = groupTasks(tasks, (t) => t.NodeID);
  const keys = new Set<string>(byNode.keys());
  for (const n of nodes.all()) keys.add(n.ID);
  const states: SlotState[] = [];
  for (const id of [...keys].sort()) {
    const n = nodes.get(id);
    const wanted = n !== undefined && n.Status.State !== 'down' && n.Spec.Availability !== 'drain' && nodeMatches(parsed.constraints, n);
    const canCreate = wanted && n.Spec.Availability === 'active' && n.Status.State === 'ready';
    states.push(processSlot(sc, { slot: 0, nodeId: id, tasks: byNode.get(id) ?? [], wanted, canCreate, updatable: updatable && canCreate }));
  }
  return states;
}
