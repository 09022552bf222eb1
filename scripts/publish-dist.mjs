// dist/ is the product and nothing else: the compiled src/ and bin/ (and, after this,
// dist/native/shoal-forker from the forker build). tsc compiles the whole tree once into
// .build/ — the product beside the test machinery that runs against it (chaos-tests/, bench/,
// test/ helpers and fixtures) — and this copies the product's part out, so no test code is
// ever shipped or loaded from dist/. One compile instead of two keeps `npm test` fast.
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const build = path.join(root, '.build');
const dist = path.join(root, 'dist');
const product = ['src', 'bin'];

// tsc never deletes an output whose source is gone. `npm test` runs the compiled tests from
// .build/test (package.json "tap"), so a test file renamed or removed would go on running from
// its stale .js: drop every compiled file whose .ts is no longer there, before dist/ is filled.
function prune(rel) {
  const dir = path.join(build, rel);
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) {
      prune(r);
      continue;
    }
    const m = /^(.*)\.js(\.map)?$/.exec(r);
    if (m && !existsSync(path.join(root, `${m[1]}.ts`))) rmSync(path.join(build, r), { force: true });
  }
}
for (const d of ['src', 'bin', 'bench', 'chaos-tests', 'test']) prune(d);

if (!existsSync(path.join(build, 'bin', 'shoal.js'))) {
  process.stderr.write('publish-dist: .build/bin/shoal.js is missing: tsc -p tsconfig.build.json runs first\n');
  process.exit(1);
}
mkdirSync(dist, { recursive: true });
// Everything but the native forker goes: a stale dist/test from an older build must not linger.
for (const e of readdirSync(dist)) if (e !== 'native') rmSync(path.join(dist, e), { recursive: true, force: true });
for (const d of product) cpSync(path.join(build, d), path.join(dist, d), { recursive: true });
// The CLI is run as a program (`npx shoal`, the package's bin): tsc writes it without the execute bit.
chmodSync(path.join(dist, 'bin', 'shoal.js'), 0o755);
