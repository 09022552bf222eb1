import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../interface.js';

/**
 * Paths inside a root filesystem (an image's, a task's), resolved the way
 * the container will see them and never outside: image unpacking, a task's
 * working directory and its /etc/passwd all go through here.
 */

/** At most this many symlinks are followed resolving one path (Linux's own limit). */
const MAX_SYMLINKS = 40;

/**
 * The real path of `rel` inside `root`, with symlinks resolved as if root
 * were `/` (openat2's RESOLVE_IN_ROOT, a chroot's view): each component is
 * lstat'ed, a symlink's absolute target starts again at root and `..` stops
 * at root, so the result is always root or below it and every component of
 * it that exists is a real directory (the last one may be anything). Once a
 * component does not exist, the rest are appended as they are. Null when a
 * component that must be a directory is a file (nothing can be below it).
 */
export function resolveInRoot(root: string, rel: string): string | null {
  const pending = rel.split('/');
  const real: string[] = [];
  let missing = false;
  let links = 0;
  while (pending.length > 0) {
    const c = pending.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      real.pop();
      continue;
    }
    if (missing) {
      real.push(c);
      continue;
    }
    const at = path.join(root, ...real, c);
    let st;
    try {
      st = lstatSync(at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw err;
      missing = true;
      real.push(c);
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw new RuntimeError('FAILED', `${rel}: too many levels of symbolic links inside ${root}`);
      const target = readlinkSync(at);
      if (target.startsWith('/')) real.length = 0;
      pending.unshift(...target.split('/'));
      continue;
    }
    if (!st.isDirectory() && pending.some((p) => p !== '' && p !== '.')) return null;
    real.push(c);
  }
  return path.join(root, ...real);
}
