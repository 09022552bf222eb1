import type { Stream, Transport } from '../wire/interface.js';
import { NodeLogs, TaskLogs, type LogFrame, type NodeLogFrame, type NodeLogQuery } from '../protocol/logs.js';
import { ManagerError } from './errors.js';
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

/** Sends a node log's matching records (JSON lines) to `onLine`; resolves when the node ends the stream. */
export type NodeLogPump = (onLine: (line: string) => void | Promise<void>) => Promise<void>;

/**
 * Opens `node.logs` on a node: rejects (UNAVAILABLE) when the node is not
 * known or cannot be reached within 3 s, so the API can answer 503 before it
 * starts a response; the pump then streams until the node ends or `signal`
 * aborts (the connection is closed either way).
 */
export async function openNodeLogs(transport: Transport, store: Store, nodeId: string, q: NodeLogQuery, signal: AbortSignal): Promise<NodeLogPump> {
  const node = store.get('node', nodeId);
  const addr = node?.ShoalAddrs?.Cluster;
  if (!addr) throw new ManagerError('UNAVAILABLE', `node ${nodeId} has no cluster address in the store`);
  const conn = await transport.connect(addr, { expectNodeId: nodeId, timeoutMs: 3_000 }).catch((err: Error) => {
    throw new ManagerError('UNAVAILABLE', `cannot reach node ${node.Description?.Hostname ?? nodeId} at ${addr} (${err.message}); its log stays on its machine (its --log-file, or its stderr)`);
  });
  return async (onLine) => {
    const s = conn.openStream(NodeLogs, { type: 'open', ...q }) as Stream<NodeLogFrame>;
    const abort = () => s.reset('the client went away');
    signal.addEventListener('abort', abort, { once: true });
    try {
      for await (const f of s) if (f.type === 'line') await onLine(f.line);
    } catch (err) {
      // reset: the client went away, or the node refused (no log) or left mid-stream
      if (!signal.aborted) throw new ManagerError('UNAVAILABLE', `reading node ${nodeId}'s log: ${(err as Error).message}`);
    } finally {
      signal.removeEventListener('abort', abort);
      conn.close('logs done');
    }
  };
}
