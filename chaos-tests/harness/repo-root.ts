import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root. This file runs from chaos-tests/harness (source) or
 * .build/chaos-tests/harness (compiled: npm test, npm run chaos, the benches).
 */
const up = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const repoRoot = ['dist', '.build'].includes(path.basename(up)) ? path.dirname(up) : up;
