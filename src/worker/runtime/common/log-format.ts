import path from 'node:path';
import type { LogLine } from '../interface.js';

/**
 * On-disk task logs (process and oci runtimes), one JSON object per line,
 * like Docker's json-file driver but terser:
 *   {"t":1700000000123,"s":"o","l":"the line without its newline"}
 * t = ms since epoch when the supervisor read it, s = "o" stdout / "e" stderr.
 * Files rotate by size: task.log (newest), task.log.1, … task.log.<N-1>.
 */

export const LOG_FILE = 'task.log';

/** Longer lines are cut into pieces of this many bytes (Docker cuts at 16 KiB too). */
export const MAX_LINE_BYTES = 16 * 1024;

export interface LogRotation {
  maxBytes: number;
  maxFiles: number;
}

export const DEFAULT_LOG_ROTATION: LogRotation = { maxBytes: 10 * 1024 * 1024, maxFiles: 3 };

/** The log files, oldest first. */
export function logFiles(logDir: string, maxFiles: number): string[] {
  const out: string[] = [];
  for (let i = maxFiles - 1; i >= 1; i--) out.push(path.join(logDir, `${LOG_FILE}.${i}`));
  out.push(path.join(logDir, LOG_FILE));
  return out;
}

export function encodeLogLine(stream: 'stdout' | 'stderr', time: number, line: string): string {
  return `{"t":${time},"s":"${stream === 'stdout' ? 'o' : 'e'}","l":${JSON.stringify(line)}}\n`;
}

export function decodeLogLine(text: string): LogLine | null {
  try {
    const r = JSON.parse(text) as { t: number; s: string; l: string };
    if (typeof r.t !== 'number' || typeof r.l !== 'string') return null;
    return { stream: r.s === 'e' ? 'stderr' : 'stdout', time: r.t, line: r.l };
  } catch {
    return null; // a line torn by a crash mid-write
  }
}
