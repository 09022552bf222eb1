/**
 * `npm run build` runs this after tsc: it compiles the C task forker
 * (forker.c) to dist/native/shoal-forker when the machine has a C compiler.
 * Without one, the supervisor uses the Perl forker (same protocol, about
 * three times the CPU per start) and this says so on one line; the build
 * does not fail. With one, a compile error does fail the build: a broken
 * forker must not pass for a missing compiler.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../util/version.js';
import { which } from '../runtime/oci/binaries.js';
import { NATIVE_FORKER } from './forker.js';

const COMPILERS = ['cc', 'gcc', 'clang'];

function main(): number {
  const root = packageRoot();
  const src = path.join(root, 'src/worker/supervisor/forker.c');
  const out = path.join(root, NATIVE_FORKER);
  if (!existsSync(src)) return 0; // an installed package without sources keeps what it shipped
  if (process.platform !== 'linux') return 0;
  const cc = process.env.CC ?? COMPILERS.find((c) => which(c) !== null);
  if (!cc) {
    rmSync(out, { force: true });
    process.stderr.write('shoal build: no C compiler (cc): tasks will be started by the Perl forker (apt-get install gcc for the faster C one)\n');
    return 0;
  }
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp${process.pid}`;
  const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-o', tmp, src], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    process.stderr.write(`shoal build: ${cc} could not compile ${path.relative(root, src)} (${r.error?.message ?? `exit ${r.status}`})\n`);
    return 1;
  }
  renameSync(tmp, out);
  return 0;
}

process.exitCode = main();
