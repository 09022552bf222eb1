/**
 * Tasks of a removed service: told to go away (desired 'remove', which also
 * tells the agent to delete the container) and deleted once nothing can run
 * them any more: terminal, never seen by an agent, or on a removed node. A
 * task on a node that is down stays until the node returns and stops it (or
 * is removed), so a returning node is never left running a service nobody
 * knows about.
 */
import type { Task } from '../../model/index.js';
import type { Ctx } from './context.js';
import { neverRan } from './model.js';

export function reconcileRemoved(ctx: Ctx, tasks: readonly Task[]): void {
  const { plan, nodes } = ctx;
  const g = plan.group();
  for (const t of [...tasks].sort((a, b) => (a.ID < b.ID ? -1 : 1))) {
    if (plan.isDead(t) || neverRan(t) || nodes.isGone(t.NodeID)) plan.delete(g, t);
    else if (plan.isLive(t)) plan.shutdown(g, t, 'remove');
  }
}
