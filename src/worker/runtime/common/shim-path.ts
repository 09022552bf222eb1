import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RuntimeError } from '../interface.js';

/**
 * The compiled shim (dist/src/worker/runtime/shim/main.js). The shim always
 * runs as plain JavaScript under `node`, never through a TypeScript loader:
 * it must start fast and stay small. When this module itself runs from the
 * TypeScript sources (tests), the compiled twin under dist/ is used.
 */
export function defaultShimPath(): string {
  const here = fileURLToPath(import.meta.url);
  const rel = path.join('..', 'shim', 'main.js');
  if (here.endsWith('.js')) return path.resolve(path.dirname(here), rel);
  const marker = `${path.sep}src${path.sep}`;
  const i = here.lastIndexOf(marker);
  const compiled = path.join(here.slice(0, i), 'dist', here.slice(i + 1));
  return path.resolve(path.dirname(compiled), rel);
}

export function checkShim(shimPath: string): void {
  if (!existsSync(shimPath)) throw new RuntimeError('UNAVAILABLE', `the task supervisor ${shimPath} is missing: run \`npm run build\``);
}
