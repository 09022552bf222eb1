import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './harness/repo-root.js';

/**
 * Where the workplace's shared test data lives (read in place, never copied
 * into the project): $SHOAL_SHARED_DIR, else `../shared` beside the
 * repository, else the workplace's fixed location /work/shared.
 */
export function sharedDir(): string {
  const root = repoRoot;
  const candidates = [process.env.SHOAL_SHARED_DIR, path.resolve(root, '../shared'), '/work/shared'].filter((c): c is string => !!c);
  for (const c of candidates) if (existsSync(path.join(c, 'testdata'))) return c;
  throw new Error(`shared test data not found; looked in ${candidates.join(', ')} (set SHOAL_SHARED_DIR)`);
}

export function sharedTestdata(): string {
  return path.join(sharedDir(), 'testdata');
}
