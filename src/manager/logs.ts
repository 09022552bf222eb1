import type { Stream, Transport } from '../wire/interface.js';
import { TaskLogs, type LogFrame } from '../protocol/logs.js';
import type { Store } from './store/store.js';
import type { Task } from '../model/index.js';

export interface LogRequest {
  follow: boolean;
  tail?: number;
  sinceMs?: number;
}

export interface TaskLogLine {
  task: Task;
  stream: 'stdout' | 'stderr';
  time: number;
  line: string;
}

/**
 * Reads the logs of `tasks` from the nodes that ran them: one `agent.logs`
 * stream per node, lines delivered as they arrive. Nodes that cannot be
 * reached are skipped (their logs are simply missing, as with Docker when a
 * node is down). Resolves when every stream has ended or `signal` aborts.
 */
export async function streamTaskLogs(
  transport: Transport,
  store: Store,
  tasks: Task[],
  req: LogRequest,
  onLine: (l: TaskLogLine) => void,
  signal: AbortSignal,
): Promise<void> {
  const byNode = new Map<string, Task[]>();
  for (const t of tasks) {
    if (!t.NodeID) continue;
    const list = byNode.get(t.NodeID) ?? [];
    list.push(t);
    byNode.set(t.NodeID, list);
  }
  await Promise.all(
    [...byNode].map(async ([nodeId, list]) => {
      const addr = store.get('node', nodeId)?.ShoalAddrs?.Cluster;
      if (!addr || signal.aborted) return;
      const conn = await transport.connect(addr, { expectNodeId: nodeId, timeoutMs: 3_000 }).catch(() => null);
      if (!conn) return;
      const byId = new Map(list.map((t) => [t.ID, t]));
      const s = conn.openStream(TaskLogs, {
        type: 'open',
        taskIds: list.map((t) => t.ID),
        follow: req.follow,
        ...(req.tail !== undefined ? { tail: req.tail } : {}),
        ...(req.sinceMs !== undefined ? { sinceMs: req.sinceMs } : {}),
      }) as Stream<LogFrame>;
      const abort = () => s.reset('the client went away');
      signal.addEventListener('abort', abort, { once: true });
      try {
        for await (const f of s) {
          if (f.type !== 'line') continue;
          const task = byId.get(f.taskId);
          if (task) onLine({ task, stream: f.stream, time: f.time, line: f.line });
        }
      } catch {
        // reset (client gone) or the node went away mid-stream
      } finally {
        signal.removeEventListener('abort', abort);
        conn.close('logs done');
      }
    }),
  );
}
