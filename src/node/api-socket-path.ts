/**
 * Where a manager's API unix socket lives: `<data-dir>/api.sock`, unless
 * that path is longer than a unix socket may be (108 bytes with its NUL; a
 * `shoal up` in a deep directory reaches it). Then a short path derived from
 * the data dir, in a directory only its owner may enter: /run/shoal as root,
 * else <tmp>/shoal-<uid>. The node and the CLI compute the same path, so
 * neither has to tell the other.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

/** Longest unix socket path Linux takes (sun_path is 108 bytes with its NUL). */
export const MAX_SOCKET_PATH = 107;

export function apiSocketPath(dataDir: string): string {
  const p = path.resolve(dataDir, 'api.sock');
  if (Buffer.byteLength(p) <= MAX_SOCKET_PATH) return p;
  const uid = process.getuid?.() ?? 0;
  const base = uid === 0 ? '/run/shoal' : path.join(os.tmpdir(), `shoal-${uid}`);
  return path.join(base, `api-${createHash('sha256').update(p).digest('hex').slice(0, 16)}.sock`);
}
