import { verdictError } from '../store/errors.js';
import { Scheduler, hostPortsOf, type SchedulerMetrics, type ServiceHints } from '../../scheduler/index.js';
import { Histogram, MS_BUCKETS } from '../../util/histogram.js';
import type { ManagerContext } from '../interface.js';
import type { Change, StoreOp } from '../store/commands.js';
import { isTerminal, type Node, type Task } from '../../model/index.js';
import { SerialLoop } from './serial-loop.js';
import { systemTimers, type Timers } from '../../util/timers.js';
import type { Logger } from '../../util/log/interface.js';

/**
 * Runs the pure scheduler on the leader: keeps its incremental view of nodes
 * and assigned tasks in step with store events, and places every task that
 * waits for a node (state new/pending, no NodeID — or pinned global tasks
 * still unconfirmed) in one batch per burst of changes.
 */
export class SchedulerLoop {
  private scheduler = new Scheduler();
  private readonly loop: SerialLoop;
  private unwatch: (() => void) | null = null;
  placements = 0;
  /** From a task's creation to its assignment, ms, over the store's timestamps: how long work waits for a node. */
  readonly placementMs = new Histogram(MS_BUCKETS);
  /** The pure scheduler's counters (a new scheduler, so new counters, each time this manager starts leading). */
  get metrics(): SchedulerMetrics {
    return this.scheduler.metrics;
  }

  private readonly log: Logger;

  constructor(
    private readonly ctx: ManagerContext,
    log: Logger,
    timers: Timers = systemTimers,
  ) {
    this.log = log.child({ component: 'scheduler' });
    this.loop = new SerialLoop(() => this.step(), (err) => this.log.error(err.message), timers);
  }

  start(): void {
    this.scheduler = new Scheduler();
    const store = this.ctx.store;
    for (const n of store.list('node')) this.scheduler.upsertNode(n);
    for (const t of store.list('task')) if (t.NodeID && !isTerminal(t.Status.State)) this.scheduler.taskAssigned(t, this.hints(t.ServiceID));
    this.unwatch = store.watch((changes) => this.onChanges(changes));
    this.loop.start();
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = null;
    this.loop.stop();
  }

  private hints(serviceId: string): ServiceHints | undefined {
    const s = this.ctx.store.get('service', serviceId);
    const hostPorts = hostPortsOf(s?.Spec.EndpointSpec);
    return hostPorts.length > 0 ? { hostPorts } : undefined;
  }

  private onChanges(changes: Change[]): void {
    let poke = false;
    for (const c of changes) {
      if (c.kind === 'node') {
        if (c.action === 'delete') this.scheduler.removeNode(c.id);
        else this.scheduler.upsertNode(c.object as Node);
        poke = true;
      } else if (c.kind === 'task') {
        const t = c.object as Task;
        if (c.action === 'delete') this.scheduler.taskRemoved(t);
        else if (t.NodeID && t.Status.State !== 'new' && t.Status.State !== 'pending') this.scheduler.taskAssigned(t, this.hints(t.ServiceID));
        poke = true;
      }
    }
    if (poke) this.loop.poke();
  }

  private waiting(t: Task): boolean {
    return (t.Status.State === 'new' || t.Status.State === 'pending') && !isTerminal(t.DesiredState);
  }

  private async step(): Promise<number | null> {
    const pending = this.ctx.store.list('task').filter((t) => this.waiting(t));
    if (pending.length === 0) return null;
    const hints = new Map<string, ServiceHints>();
    for (const t of pending) {
      if (hints.has(t.ServiceID)) continue;
      const h = this.hints(t.ServiceID);
      if (h) hints.set(t.ServiceID, h);
    }
    const { placed, unplaced } = this.scheduler.schedule(pending, hints);
    const now = this.ctx.now();
    const byId = new Map(pending.map((t) => [t.ID, t]));
    const ops: StoreOp[] = [];
    for (const p of placed) {
      ops.push({ op: 'patchTask', id: p.taskId, nodeId: p.nodeId, status: { ...byId.get(p.taskId)!.Status, Timestamp: now, State: 'assigned', Message: 'scheduler assigned task to node' } });
    }
    for (const u of unplaced) {
      const t = byId.get(u.taskId)!;
      if (t.Status.State === 'pending' && t.Status.Message === u.reason) continue;
      ops.push({ op: 'patchTask', id: u.taskId, status: { ...t.Status, Timestamp: now, State: 'pending', Message: u.reason } });
    }
    if (ops.length === 0) return null;
    try {
      const r = await this.ctx.commit(ops);
      if (!r.ok) throw verdictError(r);
      this.placements += placed.length;
      const at = Date.parse(now);
      for (const p of placed) this.placementMs.observe(at - Date.parse(byId.get(p.taskId)!.CreatedAt));
    } catch (err) {
      // Release what schedule() reserved; the next step tries again.
      for (const p of placed) this.scheduler.taskRemoved({ ID: p.taskId });
      throw err;
    }
    // Unplaceable tasks are retried when nodes or tasks change (a poke), and
    // at least every few seconds in case capacity freed up silently.
    return unplaced.length > 0 ? 5_000 : null;
  }
}
