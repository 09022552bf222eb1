import { defineMessage } from '../wire/registry.js';
import { array, bool, literal, num, object, oneOf, optional, str, tagged, uint } from '../wire/schema.js';

/**
 * `agent.logs`: a manager opens this stream to a node to read the logs of
 * some of its tasks (what `shoal service logs` / `docker service logs` ask
 * the API for). The node answers with one frame per line and ends the stream
 * when every task's log is exhausted (or, when following, when they exit).
 */
const id = str({ min: 1, max: 128 });

export const TaskLogs = defineMessage({
  name: 'agent.logs',
  version: 1,
  body: tagged('type', {
    open: object({ type: literal('open'), taskIds: array(id, { max: 10_000 }), follow: bool(), tail: optional(uint()), sinceMs: optional(num()) }),
    line: object({ type: literal('line'), taskId: id, stream: oneOf(['stdout', 'stderr'] as const), time: num(), line: str({ max: 1 << 20 }) }),
  }),
  samples: () => [
    { type: 'open' as const, taskIds: ['t1'], follow: true, tail: 10 },
    { type: 'line' as const, taskId: 't1', stream: 'stdout' as const, time: 1_795_000_000_000, line: 'hello' },
  ],
});

export type LogFrame =
  | { type: 'open'; taskIds: string[]; follow: boolean; tail?: number; sinceMs?: number }
  | { type: 'line'; taskId: string; stream: 'stdout' | 'stderr'; time: number; line: string };
