/** What the secrets tests share: reading the mount table, walking data dirs, and sweeping the tmpfs roots killed nodes leave. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

export const mounts = (): string => readFileSync('/proc/mounts', 'utf8');

/** Every regular file under `dir` (a directory that goes meanwhile is skipped). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Killed nodes leave their tasks' tmpfs mounts behind: unmount what lies under each root, then remove the roots. */
export function sweepSecretRoots(roots: string[]): void {
  for (const root of roots) {
    for (const line of mounts().split('\n')) {
      const mp = line.split(' ')[1];
      if (!mp?.startsWith(root + '/')) continue;
      try {
        execFileSync('umount', ['-l', mp]);
      } catch {
        // already gone
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
}
