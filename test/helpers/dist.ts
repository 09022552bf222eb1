import { existsSync } from 'node:fs';
import path from 'node:path';

export { repoRoot } from '../../chaos-tests/harness/repo-root.js';
import { repoRoot } from '../../chaos-tests/harness/repo-root.js';

/**
 * Path of a compiled file. Tests that start real processes run the compiled
 * JavaScript (`npm test` builds first, via pretest): the product (src/, bin/)
 * from dist/, as a user runs it; test fixtures and the harness from .build/,
 * the whole compiled tree (scripts/publish-dist.mjs).
 */
export function distFile(rel: string): string {
  const dir = /^(src|bin)\//.test(rel) ? 'dist' : '.build';
  const p = path.join(repoRoot, dir, rel);
  if (!existsSync(p)) throw new Error(`${p} is missing: run \`npm run build\` first (npm test does it in pretest)`);
  return p;
}
