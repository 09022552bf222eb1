import type { LogLevel } from './interface.js';

/** How a node process writes its log (`shoal init|join|run --log-*`). */
export interface NodeLogOptions {
  /** Records below this level are not written. */
  level: LogLevel;
  /**
   * JSON records go to this file, rotated by size: `file` → `file.1` → … →
   * `file.<maxFiles-1>`, the oldest dropped. Without it they go to stderr.
   */
  file?: string;
  /** Rotate once the file holds this many bytes. */
  maxFileBytes: number;
  /** Files kept, the live one included. */
  maxFiles: number;
  /** stderr's format when there is no file: JSON, or one readable line per record (auto: pretty on a TTY). */
  format: 'json' | 'pretty' | 'auto';
  /**
   * Records kept in memory when there is no file, for `shoal node logs`
   * (with a file, it is read instead, rotated files included).
   */
  memoryLines: number;
}

export const defaultNodeLogOptions: NodeLogOptions = {
  level: 'info',
  // 10 MiB × 5: a month of an idle node at info, and a bounded disk when a
  // node logs in a loop; dockerd's json-file driver caps logs the same way.
  maxFileBytes: 10 * 1024 * 1024,
  maxFiles: 5,
  format: 'auto',
  memoryLines: 5_000,
};
