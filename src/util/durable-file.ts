/**
 * Writing a small file so that a crash leaves either the old content or the
 * new, never a torn one: a temp file, fsync, rename over the target, fsync
 * the directory. A node's identity and its TLS files are written this way:
 * half of either would make the node a stranger to its own cluster.
 */
import { chmodSync, closeSync, fsyncSync, openSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function writeFileDurably(file: string, data: string, mode = 0o644): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode); // the umask must not loosen (or tighten) a key's mode
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
  const dfd = openSync(path.dirname(file), 'r');
  fsyncSync(dfd);
  closeSync(dfd);
}
