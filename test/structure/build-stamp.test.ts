/**
 * scripts/build-stamp.mjs, which lets npm test's pretest skip a build that
 * would change nothing. A stale build would test old code, so every way the
 * inputs can change must say "build": a newer file, a deleted file (its
 * directory changes), a build that began but never finished, a missing
 * output. Run on a copy of the script in a scratch project, as the build runs it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from '../helpers/dist.js';

const OUTPUTS = ['.build/.tsbuildinfo', 'dist/bin/shoal.js', 'dist/src/worker/supervisor/main.js', 'dist/src/worker/supervisor/lease-thread.js'];

t.test('the stamp says "fresh" only while nothing the build reads changed since it began', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-stamp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = (rel: string, text = '') => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  };
  mkdirSync(path.join(dir, 'scripts'));
  copyFileSync(path.join(repoRoot, 'scripts', 'build-stamp.mjs'), path.join(dir, 'scripts', 'build-stamp.mjs'));
  file('tsconfig.build.json', JSON.stringify({ include: ['src', 'test'] }));
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'src/a.ts', 'src/deep/b.ts', 'test/c.test.ts']) file(f, '{}');
  for (const o of OUTPUTS) file(o);
  // Inputs written a minute ago, as after a clone and before the build.
  const past = new Date(Date.now() - 60_000);
  const age = (...rels: string[]) => rels.forEach((r) => utimesSync(path.join(dir, r), past, past));
  age('package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/a.ts', 'src/deep/b.ts', 'src/deep', 'src', 'test/c.test.ts', 'test', 'scripts/build-stamp.mjs', 'scripts');
  const stamp = (mode: string) => execFileSync(process.execPath, [path.join(dir, 'scripts', 'build-stamp.mjs'), mode]);
  const fresh = () => spawnSync(process.execPath, [path.join(dir, 'scripts', 'build-stamp.mjs'), 'check']).status === 0;
  // The file system dates files by a coarse clock (a few ms): a build that begins in the same
  // tick as a change gets the same mtime, which the check rightly takes for "changed". A build
  // after a change waits until a file written now is dated later than the change.
  const tickAfter = async (rel: string) => {
    const changed = statSync(path.join(dir, rel)).mtimeMs;
    const probe = path.join(dir, '.probe');
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; await new Promise((r) => setImmediate(r))) {
      writeFileSync(probe, '');
      if (statSync(probe).mtimeMs > changed) return rmSync(probe);
    }
    throw new Error('the file system clock did not move for 5 s');
  };
  let lastChange = 'src';
  const build = async () => {
    await tickAfter(lastChange);
    stamp('begin');
    stamp('write');
  };

  t.notOk(fresh(), 'never built: build');
  await build();
  t.ok(fresh(), 'built, nothing changed since: skip');

  file('src/deep/b.ts', 'changed');
  lastChange = 'src/deep/b.ts';
  t.notOk(fresh(), 'a source file edited: build');
  await build();
  t.ok(fresh(), 'built again: skip');

  rmSync(path.join(dir, 'src', 'deep', 'b.ts'));
  lastChange = 'src/deep';
  t.notOk(fresh(), 'a source file deleted (its directory changed): build');
  await build();

  file('package.json', '{"x":1}');
  lastChange = 'package.json';
  t.notOk(fresh(), 'package.json changed: build');
  await build();
  t.ok(fresh(), 'skip again');

  stamp('begin');
  t.notOk(fresh(), 'a build began and did not finish: build');
  stamp('write');
  t.ok(fresh(), 'it finished: skip');

  rmSync(path.join(dir, 'dist', 'bin', 'shoal.js'));
  t.notOk(fresh(), 'an output was deleted: build');

  t.equal(spawnSync(process.execPath, [path.join(dir, 'scripts', 'build-stamp.mjs'), 'stamp']).status, 2, 'an unknown mode is refused');
});
