import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the workplace's shared test data lives (read in place, never copied
 * into the project): $SHOAL_SHARED_DIR, else `../shared` beside the
 * repository, else the workplace's fixed location /work/shared.
 */
export function sharedDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // This file runs from chaos-tests/ (tap) or .build/chaos-tests/.
  let root = path.resolve(here, '..');
  if (['dist', '.build'].includes(path.basename(root))) root = path.dirname(root);
  const candidates = [process.env.SHOAL_SHARED_DIR, path.resolve(root, '../shared'), '/work/shared'].filter((c): c is string => !!c);
  for (const c of candidates) if (existsSync(path.join(c, 'testdata'))) return c;
  throw new Error(`shared test data not found; looked in ${candidates.join(', ')} (set SHOAL_SHARED_DIR)`);
}

export function sharedTestdata(): string {
  return path.join(sharedDir(), 'testdata');
}
