import { defineMessage } from '../wire/registry.js';
import { array, bool, literal, num, object, oneOf, optional, str, tagged, uint } from '../wire/schema.js';
import { LOG_LEVELS } from '../util/log/interface.js';
import type { LogQuery } from '../util/log/sink.js';

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

/**
 * `node.logs`: a manager opens this stream to a node to read the node's own
 * log (what `shoal node logs NODE` asks the API for). The node sends the
 * records that match, one JSON line each as written, oldest first, and ends
 * the stream, or keeps sending new ones when following.
 */
export const NodeLogs = defineMessage({
  name: 'node.logs',
  version: 1,
  body: tagged('type', {
    open: object({
      type: literal('open'),
      follow: bool(),
      tail: optional(uint({ max: 1_000_000 })),
      sinceMs: optional(num()),
      minLevel: optional(oneOf(LOG_LEVELS)),
      component: optional(str({ min: 1, max: 64 })),
    }),
    line: object({ type: literal('line'), line: str({ max: 1 << 20 }) }),
  }),
  samples: () => [
    { type: 'open' as const, follow: true, tail: 10, minLevel: 'warn' as const, component: 'raft' },
    { type: 'line' as const, line: '{"level":"info","time":"2026-12-05T02:43:04.608Z","node":"n1","component":"raft","msg":"hello"}\n' },
  ],
});

/** What a reader asks of a node's log (util/log/sink.ts LogQuery, on the wire). */
export type NodeLogQuery = LogQuery;

export type NodeLogFrame = ({ type: 'open' } & NodeLogQuery) | { type: 'line'; line: string };

/** Reads a node's log: history, then (following) new records, until `signal` aborts. */
export type NodeLogReader = (q: NodeLogQuery, onLine: (line: string) => void | Promise<void>, signal: AbortSignal) => Promise<void>;
