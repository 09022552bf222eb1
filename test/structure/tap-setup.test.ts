/**
 * scripts/tap-setup.mjs (npm test's pretest) took effect: with coverage off
 * (package.json "tap"."disable-coverage"), this test process runs without
 * @tapjs/processinfo's module hooks and without @tapjs/mock's, which cost a
 * loader thread and ~0.6 s of CPU per test file on Node 20. A tap upgrade
 * whose text the script no longer recognises fails here, not silently.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { repoRoot } from '../helpers/dist.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const tapConfig = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { tap: Record<string, unknown> }).tap;

t.test('no coverage or mock loader hooks in a test process when coverage is off', async (t) => {
  t.equal(tapConfig['disable-coverage'], true, 'the suite runs with coverage off');
  const args = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  t.notMatch(args, /@tapjs[/\\]processinfo/, `no processinfo hook: ${args}`);
  t.notMatch(args, /@tapjs[/\\]mock/, 'no mock hook');
  t.match(args, /untracked-children\.mjs/, "the suite's own preload is there (the arguments were read)");
});

t.test("the test files' tap is one bundled module", async (t) => {
  const bundle = path.join(repoRoot, '.build', 'node_modules', 'tap', 'index.mjs');
  t.equal(fileURLToPath(import.meta.resolve('tap')), bundle, "a compiled test file's 'tap' resolves to the bundle (npm test's pretest makes it)");
  t.ok(readFileSync(bundle, 'utf8').length > 100_000, 'the bundle holds tap itself, not a re-export');
});
