import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Repository root (this file lives in test/helpers). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Path of a compiled file under dist/. Tests that start real processes run
 * the compiled JavaScript (`npm test` builds first, via pretest).
 */
export function distFile(rel: string): string {
  const p = path.join(repoRoot, 'dist', rel);
  if (!existsSync(p)) throw new Error(`${p} is missing: run \`npm run build\` first (npm test does it in pretest)`);
  return p;
}
