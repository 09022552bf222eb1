import { isLogLevel, type LogRecord } from './interface.js';

/** Fields every record has, shown in the line's head rather than as key=value. */
const HEAD = new Set(['level', 'time', 'msg', 'node', 'component', 'pid']);

const COLOURS: Record<string, string> = { trace: '90', debug: '36', info: '32', warn: '33', error: '31', fatal: '35' };

/** Reads one line of a node log; null for a line that is not a record (kept as text by the caller). */
export function parseRecord(line: string): LogRecord | null {
  if (!line.startsWith('{')) return null;
  try {
    const r = JSON.parse(line) as LogRecord;
    return r && typeof r === 'object' && isLogLevel(r.level) && typeof r.msg === 'string' ? r : null;
  } catch {
    return null;
  }
}

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

/**
 * One record as a line a person reads:
 * `2026-12-05T02:43:04.608Z INFO  raft  became leader term=3`, an error's
 * stack on the lines below. `withNode` adds the node id (for logs that mix nodes).
 */
export function prettyRecord(r: LogRecord, opts: { colour?: boolean; withNode?: boolean } = {}): string {
  const lvl = r.level.toUpperCase().padEnd(5);
  const head = `${r.time} ${opts.colour ? `\x1b[${COLOURS[r.level] ?? '0'}m${lvl}\x1b[0m` : lvl}${opts.withNode && r.node ? ` ${r.node}` : ''}${r.component ? ` ${r.component}` : ''}`;
  let stack = '';
  const fields: string[] = [];
  for (const [k, v] of Object.entries(r)) {
    if (HEAD.has(k)) continue;
    const err = v as { message?: unknown; stack?: unknown } | null;
    if (k === 'err' && err && typeof err === 'object') {
      fields.push(`err=${value(err.message)}`);
      if (typeof err.stack === 'string') stack = `\n${err.stack.replace(/^/gm, '    ')}`;
      continue;
    }
    fields.push(`${k}=${value(v)}`);
  }
  return `${head}  ${r.msg}${fields.length ? `  ${fields.join(' ')}` : ''}${stack}`;
}
