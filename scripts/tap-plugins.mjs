// tap builds its plugin set into node_modules/@tapjs/test/test-built, and the one npm installs
// includes @tapjs/typescript (ts-node). This package turns that plugin off and runs the tests
// compiled (package.json "tap": .build/test), but tap only rebuilds the set while a run has
// already loaded the old one: the first `npm test` after a fresh install ran every test process
// with ts-node's loader (measured on fresh clones: much slower, and timing-sensitive tests failed).
// So rebuild here, before the run, and only when the installed set still names the plugin.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
let built;
try {
  built = path.join(path.dirname(require.resolve('@tapjs/test/package.json')), 'test-built', 'dist', 'esm', 'index.js');
} catch {
  process.exit(0); // tap is not installed (a production install): nothing to do
}
let text = '';
try {
  text = readFileSync(built, 'utf8');
} catch {
  // no built set yet: tap build makes it
}
if (text === '' || text.includes('@tapjs/typescript')) {
  execFileSync(process.execPath, [require.resolve('tap/package.json').replace(/package\.json$/, 'dist/esm/run.mjs'), 'build'], { stdio: 'inherit' });
}
