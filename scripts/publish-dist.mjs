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
