/**
 * `npm run build` runs this after tsc: it compiles the node's two C helpers
 * into dist/native/ when the machine has a C compiler.
 *
 * - shoal-forker (supervisor/forker.c): the task forker. Without a compiler
 *   the supervisor uses the Perl forker (same protocol, about three times
 *   the CPU per start), and this says so on one line; the build does not
 *   fail. With one, a compile error does fail the build: a broken forker
 *   must not pass for a missing compiler.
 *   Where Debian's crun package ships libcrun.a of a version whose API
 *   supervisor/forker-libcrun.h declares (crun 1.8 to 1.12; Debian 12 has
 *   1.8.1), the forker is built with libcrun in it and starts crun
 *   containers without exec'ing crun (the header says why). If that build
 *   fails, or the forker it made cannot start here (libcrun re-executes it
 *   from a memfd before main), it says so and the plain forker is built.
 * - shoal-pause (runtime/docker/pause.c), linked static because it runs
 *   inside any image: the sandbox that holds a docker task's network
 *   namespace. Without it (no compiler, or no static libc: libc6-dev) docker
 *   tasks that join networks are refused with that reason; the build says
 *   so and does not fail.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../util/version.js';
import { which } from './runtime/oci/binaries.js';
import { NATIVE_FORKER } from './supervisor/forker.js';
import { libcrunLink } from './supervisor/forker-libcrun.js';
import { NATIVE_PAUSE } from './runtime/docker/pause.js';

const COMPILERS = ['cc', 'gcc', 'clang'];

interface Helper {
  src: string;
  out: string;
  flags: string[];
  /** Objects and libraries, after the source. */
  libs?: string[];
  /** Said when it cannot be built; a compile error of a helper that is not optional fails the build. */
  without: string;
  optional: boolean;
}

const HELPERS: Helper[] = [
  {
    src: 'src/worker/supervisor/forker.c',
    out: NATIVE_FORKER,
    flags: [],
    without: 'tasks will be started by the Perl forker (apt-get install gcc for the faster C one)',
    optional: false,
  },
  {
    src: 'src/worker/runtime/docker/pause.c',
    out: NATIVE_PAUSE,
    flags: ['-static', '-s'],
    without: 'docker tasks cannot join overlay networks (apt-get install gcc libc6-dev)',
    optional: true,
  },
];

function build(root: string, cc: string | undefined, h: Helper): number {
  const src = path.join(root, h.src);
  const out = path.join(root, h.out);
  if (!existsSync(src)) return 0; // an installed package without sources keeps what it shipped
  if (!cc) {
    rmSync(out, { force: true });
    process.stderr.write(`shoal build: no C compiler (cc): ${h.without}\n`);
    return 0;
  }
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp${process.pid}`;
  const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', ...h.flags, '-o', tmp, src, ...(h.libs ?? [])], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    rmSync(out, { force: true });
    process.stderr.write(`shoal build: ${cc} could not compile ${h.src} (${r.error?.message ?? `exit ${r.status}`})${h.optional ? `: ${h.without}` : ''}\n`);
    return h.optional ? 0 : 1;
  }
  renameSync(tmp, out);
  return 0;
}

/**
 * The forker starts and ends cleanly here: given this process as its parent
 * and an empty request stream, it exits 0. libcrun's constructor runs first
 * and kills the process (exit 1, "Failed to re-execute libcrun…") where it
 * cannot re-execute it from a memfd; then the plain forker is the one.
 */
function startsHere(forker: string): boolean {
  const r = spawnSync(forker, [String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 10_000 });
  if (r.status === 0) return true;
  process.stderr.write(`shoal build: the forker linked with libcrun does not start here (${r.stderr.trim() || r.error?.message || `exit ${r.status}`}): building the one that execs crun\n`);
  rmSync(forker, { force: true });
  return false;
}

function main(): number {
  if (process.platform !== 'linux') return 0;
  const root = packageRoot();
  const cc = process.env.CC ?? COMPILERS.find((c) => which(c) !== null);
  let code = 0;
  for (const h of HELPERS) {
    // The forker with libcrun in it when this machine's crun allows; the plain one when it does not, or did not build.
    const lc = h.out === NATIVE_FORKER && cc ? libcrunLink() : null;
    if (lc && 'flags' in lc) {
      build(root, cc, { ...h, flags: [...h.flags, ...lc.flags], libs: lc.libs, without: `the forker will exec crun (libcrun ${lc.version} did not link)`, optional: true });
      if (existsSync(path.join(root, h.out)) && startsHere(path.join(root, h.out))) continue;
    }
    code = Math.max(code, build(root, cc, h));
  }
  return code;
}

process.exitCode = main();
