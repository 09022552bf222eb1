import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (where package.json is): from src/ under tap and from dist/ alike. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return dir;
}

/** The package version, read from package.json. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'shoal' && pkg.version) return pkg.version;
  } catch {
    // an installed copy without its package.json
  }
  return '0.0.0-unknown';
}
