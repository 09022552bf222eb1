// The programs Shoal starts, each made one file (esbuild), after publish-dist.mjs has copied the
// compiled product into dist/:
//
// - dist/bin/shoal.js                           the CLI and the node daemon (`shoal init|join|run`);
// - dist/src/worker/supervisor/main.js          the task supervisor, a process of its own;
// - dist/src/worker/supervisor/lease-thread.js  its fence, a worker thread.
//
// Why: a node process spends most of its start-up loading modules, one file at a time through
// Node's ESM loader: ~250 of ours and ~200 from node_modules. Measured on this 2-core VM
// (`node -e "await import('./dist/src/node/daemon.js')"`): 0.52 s of wall time from the tree,
// 0.23 s from one bundle. Every node, supervisor and CLI command pays it on every start.
// esbuild is the well-kept tool for exactly this (and tsx, already a dev dependency, is built on
// it), so it is used rather than a hand-written concatenation.
//
// Kept out of the bundles, loaded from node_modules as before: packages with native addons,
// which find their .node files relative to their own location (sqlite3, sodium-native,
// udx-native, msgpackr-extract, and ws's optional bufferutil/utf-8-validate). The rest of dist/src
// stays as tsc wrote it (what the package's files list ships); only these three entry points
// replace theirs. Lazy imports (the CLI's commands) stay lazy inside a bundle: esbuild defers
// each dynamically imported module's evaluation until the import runs.
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENTRIES = ['bin/shoal.js', 'src/worker/supervisor/main.js', 'src/worker/supervisor/lease-thread.js'];
const NATIVE = ['sqlite3', 'sodium-native', 'udx-native', 'msgpackr-extract', 'bufferutil', 'utf-8-validate', 'fsevents'];

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  // A production install builds nothing (dist/ ships built); a checkout without dev dependencies
  // keeps the unbundled programs: the same code, slower to start.
  process.stderr.write('shoal build: esbuild is not installed: node programs stay unbundled (slower start)\n');
  process.exit(0);
}

for (const rel of ENTRIES) {
  if (!existsSync(path.join(root, '.build', rel))) {
    process.stderr.write(`bundle-dist: .build/${rel} is missing: tsc runs first\n`);
    process.exit(1);
  }
}
rmSync(path.join(root, 'dist', 'chunks'), { recursive: true, force: true });
await esbuild.build({
  entryPoints: ENTRIES.map((rel) => path.join(root, '.build', rel)),
  outbase: path.join(root, '.build'),
  outdir: path.join(root, 'dist'),
  // Split at dynamic imports: `shoal --version` loads the CLI's core chunk, not the daemon's.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: NATIVE,
  // Bundled CommonJS packages call require(): give each ES module chunk one.
  banner: { js: "import { createRequire as __shoalRequire } from 'node:module'; const require = __shoalRequire(import.meta.url);" },
  // Class names show in logs and error kinds; source maps keep stack traces readable (--enable-source-maps).
  keepNames: true,
  sourcemap: true,
  allowOverwrite: true,
  logLevel: 'warning',
});
