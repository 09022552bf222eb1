/**
 * Plain counters of one scheduler instance. The manager exports them; tests
 * use them to check that batching did its job (filter passes per group, not
 * per task).
 */
export class SchedulerMetrics {
  /** schedule() calls. */
  batches = 0;
  /** Pending tasks handed to schedule(). */
  tasksSeen = 0;
  tasksPlaced = 0;
  /** Tasks left unplaced because no node passed every filter. */
  tasksUnplaced = 0;
  /** Tasks left unplaced because their placement spec could not be parsed. */
  tasksInvalid = 0;
  /** Groups of identical pending tasks (each costs one filter pass over the nodes). */
  groups = 0;
  /** Static filter passes over all nodes (shared by groups with the same constraints, platforms and runtime). */
  staticPasses = 0;
  /** Groups that reused a static pass computed earlier in the batch. */
  staticReuses = 0;
  /** Node checks by the static filters. */
  staticChecks = 0;
  /** Node checks by the dynamic filters (resources, MaxReplicas, ports). */
  dynamicChecks = 0;
  /** Groups placed through a shared index (placement-index.ts) instead of a pass over every node. */
  indexedGroups = 0;
  /** Shared indexes built (first use, or after the node set changed). */
  indexBuilds = 0;
  /** Pending tasks the scheduler already counted somewhere, released before being placed again. */
  replaced = 0;
  /** Calls that changed the node set or node facts. */
  nodeUpserts = 0;
  nodeRemovals = 0;
  /** Tasks counted against a node by taskAssigned (not by schedule). */
  tasksCounted = 0;
  /** Tasks released (taskRemoved, a terminal state, a move). */
  tasksReleased = 0;
}
