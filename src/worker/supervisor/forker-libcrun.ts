/**
 * Whether, and how, the C forker is linked with libcrun (forker-libcrun.h
 * says what that buys and how the forker uses it). Asked by the native build
 * (native-build.ts), and by the tests, which then require the in-process
 * path wherever this says it can be built.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';

/**
 * crun package versions whose libcrun API is the one forker-libcrun.h
 * declares: libcrun_context_s, libcrun_error_s, the functions it calls and
 * crun's own `run` command (src/run.c, init_libcrun_context) are the same in
 * every release tag from 1.8 to 1.12; the context changed in 1.13. Debian 12
 * ships 1.8.1, the one version that has run here.
 */
export const LIBCRUN_VERSIONS = /^1\.(8|9|10|11|12)(\.\d+)?([-+~]|$)/;

export interface LibcrunLink {
  /** The crun package's version. */
  version: string;
  /** The crun binary a request must name (resolved), whose build this libcrun is. */
  binary: string;
  /** Compiler flags: -D's for forker.c. */
  flags: string[];
  /** libcrun.a and the shared libraries crun links, after the source. */
  libs: string[];
}

const run = (cmd: string, args: string[]): string | null => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return r.status === 0 ? r.stdout : null;
};

/** How to link the forker with this machine's libcrun, or why it cannot be (then the forker execs crun). */
export function libcrunLink(): LibcrunLink | { why: string } {
  if (process.env.SHOAL_FORKER_LIBCRUN === '0') return { why: 'SHOAL_FORKER_LIBCRUN=0' };
  const version = run('dpkg-query', ['-W', '-f', '${Version}', 'crun'])?.trim();
  if (!version) return { why: "crun is not installed from Debian's package" };
  if (!LIBCRUN_VERSIONS.test(version)) return { why: `crun ${version}'s libcrun API is not the one forker-libcrun.h declares (1.8 to 1.12)` };
  const files = (run('dpkg', ['-L', 'crun']) ?? '').split('\n');
  const archive = files.find((f) => f.endsWith('/libcrun.a'));
  const packaged = files.find((f) => /\/s?bin\/crun$/.test(f));
  if (!archive || !packaged || !existsSync(archive) || !existsSync(packaged)) return { why: 'the crun package has no libcrun.a' };
  // The shared libraries crun itself links, by path: their -dev packages (the unversioned .so names) are not needed.
  const shared = (run('ldd', [packaged]) ?? '')
    .split('\n')
    .map((l) => /=>\s+(\S+)\s+\(/.exec(l)?.[1])
    .filter((p): p is string => !!p && !/\/libc\.so/.test(p));
  if (shared.length === 0) return { why: `ldd ${packaged} listed no libraries` };
  const binary = realpathSync(packaged);
  const st = statSync(binary);
  return {
    version,
    binary,
    flags: ['-DSHOAL_LIBCRUN', `-DSHOAL_LIBCRUN_BINARY="${binary}"`, `-DSHOAL_LIBCRUN_SIZE=${st.size}LL`, `-DSHOAL_LIBCRUN_MTIME=${Math.floor(st.mtimeMs / 1000)}LL`],
    libs: [archive, ...shared, '-ldl', '-lm'],
  };
}
