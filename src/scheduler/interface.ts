/**
 * Contract of the scheduler (src/scheduler/scheduler.ts), the one thing the
 * manager wires in. The scheduler is pure: no I/O, no clock, no randomness.
 * Same calls in the same order → same placements, whatever order nodes were
 * added in (every tie is broken by node id).
 *
 * How the manager drives it:
 *
 *   import { Scheduler, hostPortsOf } from './index.js';
 *   const s = new Scheduler({ strategy: 'binpack' });   // Partial<SchedulerOptions> (options.ts)
 *   for (const n of store.nodes) s.upsertNode(n);
 *   for (const t of store.tasks) if (t.NodeID) s.taskAssigned(t, hintsOf(t.ServiceID));
 *   // on watch events: upsertNode / removeNode / taskAssigned (any update of an
 *   // assigned task, idempotent; a terminal state releases it) / taskRemoved.
 *   const hints = new Map([[svc.ID, { hostPorts: hostPortsOf(svc.Spec.EndpointSpec) }]]);
 *   const { placed, unplaced } = s.schedule(pendingTasks, hints);
 *   // propose placed (NodeID = nodeId, state assigned); write unplaced[i].reason
 *   // into Task.Status.Message (Docker shows "no suitable node (…)" there).
 *   // If the proposal fails, call taskRemoved(task) for each placed task to
 *   // release what schedule() reserved for it.
 *
 * This file imports nothing that runs, so anything can depend on it.
 */
import type { Node, Task } from '../model/index.js';

/**
 * binpack (default): best fit on CPU and memory (Nomad's score), so whole
 * nodes stay free for big tasks. Tasks that reserve nothing spread instead: by
 * fewest tasks of their service on the node, then fewest tasks overall.
 * spread: fewest tasks of the service on the node, then fewest tasks overall
 * (Swarm's behaviour).
 * Both honour Placement.Preferences (spread descriptors) first: the service's
 * tasks are balanced across the descriptor's values, then the strategy picks a
 * node inside the chosen value.
 */
export type Strategy = 'binpack' | 'spread';

export interface HostPort {
  /** The published port on the node (PublishedPort of a PublishMode 'host' port). */
  port: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

/**
 * What the scheduler needs about a service beyond its tasks' TaskSpec. The
 * task spec carries no EndpointSpec, so host-mode published ports come from
 * here (hostPortsOf(service.Spec.EndpointSpec) computes them).
 */
export interface ServiceHints {
  hostPorts?: readonly HostPort[];
  /** Overrides the scheduler's strategy for this service's tasks. */
  strategy?: Strategy;
}

/** Per-service hints keyed by ServiceID; a Map does. */
export interface HintsLookup {
  get(serviceId: string): ServiceHints | undefined;
}

export interface Placement {
  taskId: string;
  nodeId: string;
}

/**
 * NO_SUITABLE_NODE: every node failed some filter (the reason counts them).
 * INVALID_SPEC: the task's placement spec cannot be understood (a bad
 * constraint or spread descriptor); retrying will not help until the service
 * is updated.
 */
export type UnplacedCode = 'NO_SUITABLE_NODE' | 'INVALID_SPEC';

export interface Unplaced {
  taskId: string;
  code: UnplacedCode;
  /** e.g. "no suitable node (insufficient memory on 3 nodes; constraint node.labels.zone==a not met on 2 nodes)". */
  reason: string;
}

export interface ScheduleResult {
  /** In the order the tasks were placed (groups in order of first appearance in the input). */
  placed: Placement[];
  unplaced: Unplaced[];
}

/** What the scheduler has counted against one node (for status views and tests). */
export interface NodeUsage {
  nanoCPUs: number;
  memoryBytes: number;
  /** Non-terminal tasks counted on the node. */
  tasks: number;
}

export interface SchedulerApi {
  /** Adds or replaces a node's description, status and spec. Usage counted on it is kept. */
  upsertNode(node: Node): void;
  /** Forgets the node; tasks still counted on it stay counted until taskRemoved (so re-adding it is consistent). */
  removeNode(id: string): void;
  /**
   * Counts an assigned, non-terminal task against its node. Idempotent per
   * task ID: a second call with the same node does nothing, a different node
   * moves it, a terminal state or empty NodeID releases it. Host ports come
   * from hints, else from Status.PortStatus (PublishMode 'host').
   */
  taskAssigned(task: Task, hints?: ServiceHints): void;
  /** Releases whatever is counted for this task ID (unknown IDs are ignored). */
  taskRemoved(task: Pick<Task, 'ID'>): void;
  /**
   * Places a batch of pending tasks. A task whose NodeID is already set is
   * pinned (global services): only that node is checked. A pending task the
   * scheduler already counts somewhere is released first (it is being
   * re-placed). Placed tasks are counted at once, as by taskAssigned.
   */
  schedule(pending: readonly Task[], hints?: HintsLookup): ScheduleResult;
  usage(nodeId: string): NodeUsage | undefined;
}
