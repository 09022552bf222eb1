import { readFileSync } from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../interface.js';
import { resolveInRoot } from './in-root.js';

/**
 * ContainerSpec.User ("name", "uid", "name:group", "uid:gid") resolved
 * against a root's /etc/passwd and /etc/group: the host's for the process
 * runtime, the image's for oci. Numeric IDs need no files.
 */
export interface ResolvedUser {
  uid: number;
  gid: number;
  home?: string;
}

function table(root: string, file: string): string[][] {
  // An image's /etc/passwd may be a symlink: it is read where it leads inside the image, never on the host.
  const at = resolveInRoot(root, `etc/${file}`);
  if (at === null) return [];
  try {
    return readFileSync(at, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch {
    return [];
  }
}

export function resolveUser(spec: string, root = '/'): ResolvedUser {
  const [u, g] = spec.split(':', 2) as [string, string | undefined];
  const passwd = table(root, 'passwd');
  let uid: number;
  let gid: number | undefined;
  let home: string | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const row = passwd.find((r) => r[2] === u);
    if (row) {
      gid = Number(row[3]);
      home = row[5];
    }
  } else {
    const row = passwd.find((r) => r[0] === u);
    if (!row) throw new RuntimeError('INVALID_SPEC', `user ${JSON.stringify(u)} not found in ${path.join(root, 'etc/passwd')}`);
    uid = Number(row[2]);
    gid = Number(row[3]);
    home = row[5];
  }
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const row = table(root, 'group').find((r) => r[0] === g);
      if (!row) throw new RuntimeError('INVALID_SPEC', `group ${JSON.stringify(g)} not found in ${path.join(root, 'etc/group')}`);
      gid = Number(row[2]);
    }
  }
  return { uid, gid: gid ?? uid, ...(home ? { home } : {}) };
}
