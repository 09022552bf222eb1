import type { TaskStatus } from '../../model/index.js';
import { TASK_END_MESSAGE } from './task-messages.js';

/**
 * The agent's counters (Agent.metrics), read by the node's /metrics: what
 * happened to the tasks this node ran, counted from the very reports it
 * sends the managers.
 */
export interface AgentMetrics {
  /** Reports by the state they moved a task to (`running`, `failed`, …). */
  transitions: Record<string, number>;
  /** Tasks that reached running here. */
  starts: number;
  /** Terminal ends by cause: complete, failed (non-zero exit), fenced, oom, lost, rejected, shutdown. */
  ends: Record<string, number>;
}

export function newAgentMetrics(): AgentMetrics {
  return { transitions: Object.create(null) as Record<string, number>, starts: 0, ends: Object.create(null) as Record<string, number> };
}

/** The cause of a terminal report, from the state and the message the task controller gives it. */
function endCause(s: TaskStatus): string | null {
  switch (s.State) {
    case 'complete':
    case 'shutdown':
    case 'rejected':
      return s.State;
    case 'failed':
      if (s.Message === TASK_END_MESSAGE.fenced) return 'fenced';
      if (s.Message === TASK_END_MESSAGE.oom) return 'oom';
      if (s.Message === TASK_END_MESSAGE.lost) return 'lost';
      return 'failed';
    default:
      return null;
  }
}

export function countReport(m: AgentMetrics, s: TaskStatus): void {
  m.transitions[s.State] = (m.transitions[s.State] ?? 0) + 1;
  if (s.State === 'running') m.starts++;
  const cause = endCause(s);
  if (cause) m.ends[cause] = (m.ends[cause] ?? 0) + 1;
}
