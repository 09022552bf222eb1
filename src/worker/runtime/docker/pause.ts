import { existsSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../../util/version.js';

/** Where the build puts the static sandbox binary (pause.c), relative to the package root. */
export const NATIVE_PAUSE = 'dist/native/shoal-pause';

/** The static pause binary, if the build made one (native-build.ts): without it docker tasks cannot join networks. */
export function nativePausePath(): string | null {
  const file = path.join(packageRoot(), NATIVE_PAUSE);
  return existsSync(file) ? file : null;
}
