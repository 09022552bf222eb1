// The build's freshness stamp (.build/.stamp), so `npm test`'s pretest skips a build that would
// change nothing: after `npm ci` (whose prepare step builds), a no-op `npm run build` still cost
// ~6 s (tsc's incremental check alone ~4 s), every time the suite ran.
//
//   node scripts/build-stamp.mjs begin   a build starts (package.json "build", first step)
//   node scripts/build-stamp.mjs write   it finished: the stamp, dated when it STARTED (a file
//                                        edited while it ran is newer, so the next pretest builds)
//   node scripts/build-stamp.mjs check   exit 0 if the stamp is newer than everything the build
//                                        reads, 1 if anything is newer or there is no stamp
//
// "Everything the build reads": every file and directory under the trees tsc compiles (its
// tsconfig.build.json "include", which the bundler and the native build read from too) and
// scripts/, and the config files. Directories count too, so deleting or
// renaming a file (which changes its directory's mtime, not any file's) also means "build".
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const stamp = path.join(root, '.build', '.stamp');
const begun = path.join(root, '.build', '.stamp-begin');
const FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
const TREES = [...JSON.parse(readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8')).include, 'scripts'];
const OUTPUTS = ['.build/.tsbuildinfo', 'dist/bin/shoal.js', 'dist/src/worker/supervisor/main.js', 'dist/src/worker/supervisor/lease-thread.js'];

/** The newest mtime (ms) under `p`, directories included. */
function newest(p) {
  let st;
  try {
    st = statSync(p);
  } catch {
    return 0;
  }
  let m = st.mtimeMs;
  if (st.isDirectory()) for (const e of readdirSync(p)) m = Math.max(m, newest(path.join(p, e)));
  return m;
}

const mode = process.argv[2];
if (mode === 'begin') {
  mkdirSync(path.dirname(stamp), { recursive: true });
  rmSync(stamp, { force: true });
  writeFileSync(begun, `${new Date().toISOString()}\n`);
} else if (mode === 'write') {
  // Only a build that began stamps: a failed one left no .stamp (begin removed it) and builds again.
  try {
    renameSync(begun, stamp);
  } catch {
    // no begin: nothing to stamp
  }
} else if (mode === 'check') {
  // What the tests start: a build whose outputs were deleted since is no build.
  if (!OUTPUTS.every((o) => existsSync(path.join(root, o)))) process.exit(1);
  let stampMs = 0;
  try {
    stampMs = statSync(stamp).mtimeMs;
  } catch {
    process.exit(1);
  }
  const inputs = Math.max(...TREES.map((t) => newest(path.join(root, t))), ...FILES.map((f) => newest(path.join(root, f))));
  process.exit(inputs < stampMs ? 0 : 1);
} else {
  process.stderr.write('usage: node scripts/build-stamp.mjs begin|write|check\n');
  process.exit(2);
}
