/**
 * A node process's output as the checkers read it: its log records (one
 * JSON object per line, src/util/log) and whatever else it printed (a
 * banner, or what Node itself writes when it dies: "FATAL ERROR", a stack).
 */
import type { LogRecord } from '../../src/util/log/interface.js';
import { parseRecord } from '../../src/util/log/pretty.js';

export interface NodeOutput {
  records: LogRecord[];
  /** Lines that are not records, in order. */
  text: string[];
}

export function readNodeOutput(...outputs: string[]): NodeOutput {
  const out: NodeOutput = { records: [], text: [] };
  for (const o of outputs) {
    for (const line of o.split('\n')) {
      if (!line) continue;
      const r = parseRecord(line);
      if (r) out.records.push(r);
      else out.text.push(line);
    }
  }
  return out;
}
