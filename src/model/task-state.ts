/**
 * The task state machine's states. Part of the domain model (src/model):
 * the orchestrator, the dispatcher, the agent and the CLI all read them.
 */
/**
 * Task states, in order. A task's state only moves forward; everything from
 * `complete` on is terminal.
 */
export const TASK_STATES = [
  'new',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
  'complete',
  'shutdown',
  'failed',
  'rejected',
  'remove',
  'orphaned',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

const RANK: Record<TaskState, number> = Object.fromEntries(TASK_STATES.map((s, i) => [s, i])) as Record<TaskState, number>;
/** Total order of task states (terminal states compare equal to each other in what they mean, but are ordered for storage). */
export function stateRank(s: TaskState): number {
  return RANK[s];
}
export function isTerminal(s: TaskState): boolean {
  return RANK[s] >= RANK.complete;
}
