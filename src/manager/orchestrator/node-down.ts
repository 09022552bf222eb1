/**
 * Tasks that lost their node. Following SwarmKit:
 *
 *  - node 'down': the task gets desired 'shutdown' and its status stays what
 *    the node last reported (nobody knows better); a replacement starts at
 *    once, without the restart delay (DESIGN.md: "Restart delay 0 after node
 *    death"), and does not wait for the old copy, which cannot be reached.
 *    When the node returns, its agent sees desired 'shutdown' and stops the
 *    old copy, so it never runs beside the replacement for long.
 *  - node removed from the cluster: the same, and the task is also marked
 *    'orphaned', since no agent will ever report on it again (that makes it
 *    terminal, so history pruning can delete it).
 *  - node drained (replicated services): desired 'shutdown', and a
 *    replacement elsewhere that waits, desired 'ready', until the drained copy
 *    has stopped (or oldTaskTimeoutMs), so a slot never runs twice.
 *    Global services simply stop their task there.
 *
 * 'unknown' and 'disconnected' nodes are not dead (see NodeIndex.isDown).
 * Unlike SwarmKit, the restart policy does not apply to these moves: a node
 * death is not an exit, so even Condition 'none' tasks are rescheduled, and
 * MaxAttempts is not charged.
 */
import type { Task } from '../../model/index.js';
import type { ServiceCtx } from './context.js';

export type Loss = 'gone' | 'down' | 'drained';

/** Why a task that has not exited can no longer count as its slot's copy, or null. */
export function lossOf(sc: ServiceCtx, t: Task): Loss | null {
  const nodes = sc.ctx.nodes;
  if (t.NodeID === '') return null;
  if (nodes.isGone(t.NodeID)) return 'gone';
  if (nodes.isDown(t.NodeID)) return 'down';
  if (sc.kind === 'replicated' && nodes.isDrained(t.NodeID)) return 'drained';
  return null;
}
