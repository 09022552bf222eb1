import type { Stream, Transport } from '../../wire/interface.js';
import { defineMessage } from '../../wire/registry.js';
import { array, bool, literal, num, object, oneOf, optional, str, tagged, uint } from '../../wire/schema.js';
import type { LogLine, Runtime } from '../runtime/interface.js';

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

/** Finds which runtime holds a task's logs (the agent may have forgotten a finished task). */
export type RuntimeLookup = (taskId: string) => Promise<Runtime | undefined>;

export function serveTaskLogs(transport: Transport, lookup: RuntimeLookup, log: (m: string) => void): () => void {
  transport.onStream(TaskLogs, (stream, open) => {
    const s = stream as Stream<LogFrame>;
    const o = open as LogFrame;
    if (o.type !== 'open') return s.reset('expected an open frame');
    let cancelled = false;
    const iterators: AsyncIterator<LogLine>[] = [];
    s.onData(
      () => {},
      () => {
        // The manager went away (client stopped following): stop reading.
        cancelled = true;
        for (const it of iterators) void it.return?.();
      },
    );
    const one = async (taskId: string) => {
      const rt = await lookup(taskId);
      if (!rt) return;
      const it = rt.logs(taskId, { follow: o.follow, ...(o.tail !== undefined ? { tail: o.tail } : {}), ...(o.sinceMs !== undefined ? { sinceMs: o.sinceMs } : {}) })[Symbol.asyncIterator]();
      iterators.push(it);
      for (;;) {
        if (cancelled) return;
        const r = await it.next();
        if (r.done || cancelled) return;
        // Back-pressure: a slow reader makes us wait instead of buffering a whole log.
        if (!s.write({ type: 'line', taskId, stream: r.value.stream, time: r.value.time, line: r.value.line })) await s.drain().catch(() => {});
      }
    };
    Promise.all(o.taskIds.map((t) => one(t).catch((err: Error) => log(`logs of ${t}: ${err.message}`)))).then(
      () => {
        if (!cancelled) s.end();
      },
      () => {},
    );
  });
  return () => transport.off(TaskLogs);
}
