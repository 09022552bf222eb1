/**
 * The Message of the task statuses the agent reports for ends it tells apart
 * (the controller writes them, the agent's metrics count by them): one
 * definition, so a reworded message cannot silently stop being counted.
 */
export const TASK_END_MESSAGE = {
  fenced: 'fenced',
  oom: 'OOM killed',
  lost: 'task lost',
} as const;
