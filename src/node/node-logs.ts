import type { Stream, Transport } from '../wire/interface.js';
import { NodeLogs, type NodeLogFrame, type NodeLogReader } from '../protocol/logs.js';

/**
 * Answers `node.logs` streams (a manager reading this node's log for
 * `shoal node logs`): the records that match, with back-pressure, until the
 * history is sent or, when following, until the manager goes away.
 */
export function serveNodeLogs(transport: Transport, read: NodeLogReader | null): () => void {
  transport.onStream(NodeLogs, (stream, open) => {
    const s = stream as Stream<NodeLogFrame>;
    const o = open as NodeLogFrame;
    if (o.type !== 'open') return s.reset('expected an open frame');
    if (!read) return s.reset('this node keeps no log it can read back (started without a log)');
    const ac = new AbortController();
    s.onData(
      () => {},
      () => ac.abort(),
    );
    const { type: _, ...q } = o;
    read(
      q,
      async (line) => {
        // A slow reader makes us wait instead of buffering a whole log.
        if (!s.write({ type: 'line', line })) await s.drain().catch(() => {});
      },
      ac.signal,
    ).then(
      () => {
        if (!ac.signal.aborted) s.end();
      },
      (err: Error) => s.reset(`reading the node log: ${err.message}`),
    );
  });
  return () => transport.off(NodeLogs);
}
