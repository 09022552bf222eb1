import type { Stream, Transport } from '../../wire/interface.js';
import { TaskLogs, type LogFrame } from '../../protocol/logs.js';
import type { LogLine, Runtime } from '../runtime/interface.js';
import type { Logger } from '../../util/log/interface.js';

/** Finds which runtime holds a task's logs (the agent may have forgotten a finished task). */
export type RuntimeLookup = (taskId: string) => Promise<Runtime | undefined>;

export function serveTaskLogs(transport: Transport, lookup: RuntimeLookup, log: Logger): () => void {
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
    Promise.all(o.taskIds.map((t) => one(t).catch((err: Error) => log.warn({ task: t }, `logs of ${t}: ${err.message}`)))).then(
      () => {
        if (!cancelled) s.end();
      },
      () => {},
    );
  });
  return () => transport.off(TaskLogs);
}
