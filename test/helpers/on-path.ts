import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** The first executable `name` on PATH, or null (a test that needs it skips, saying so). */
export function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}
