import { pino } from 'pino';
import type { Logger } from './interface.js';
import { defaultNodeLogOptions, type NodeLogOptions } from './options.js';
import { NodeLogSink } from './sink.js';

/** A node process's logger and where its records go. */
export interface NodeLog {
  log: Logger;
  sink: NodeLogSink;
}

/**
 * The root logger of a node process: pino, chosen over a hand-written
 * writer for its fast, safe JSON (circular fields, error serialization with
 * causes, child bindings written once) and its level handling, writing
 * synchronously into NodeLogSink, which owns files, rotation and readers.
 * pino's transports (worker threads) are not used: a record must be on disk
 * before the line after it runs, or a crash loses the records that explain it.
 */
export function createNodeLog(opts: Partial<NodeLogOptions> = {}, out: { write(s: string): unknown; isTTY?: boolean } = process.stderr): NodeLog {
  const o = { ...defaultNodeLogOptions, ...opts };
  const sink = new NodeLogSink(o, out);
  const log = pino(
    {
      level: o.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    sink,
  );
  return { log, sink };
}
