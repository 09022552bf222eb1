import t from 'tap';
import { accessSync, constants, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { distFile } from '../helpers/dist.js';
import path from 'node:path';
import { repoRoot } from '../helpers/dist.js';
import { oneLineError, shoalProcess } from './helpers.js';

/**
 * The compiled CLI as a user runs it (node dist/bin/shoal.js): --version,
 * --help and an unknown command, with their exit codes.
 */
const pkgVersion = (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

t.test('--version and -v print the package.json version and exit 0', async (t) => {
  for (const flag of ['--version', '-v']) {
    const r = await shoalProcess([flag]);
    t.equal(r.code, 0, `${flag} exits 0 (stderr: ${r.err})`);
    t.equal(r.out, `${pkgVersion}\n`, `${flag} prints exactly the version`);
    t.equal(r.err, '', `${flag} writes nothing on stderr`);
  }
});

t.test('--help lists the top-level commands and exits 0', async (t) => {
  for (const args of [['--help'], ['-h'], ['help']]) {
    const r = await shoalProcess(args);
    t.equal(r.code, 0, `${args.join(' ')} exits 0 (stderr: ${r.err})`);
    t.match(r.out, /^Usage: shoal /, `${args.join(' ')} prints the usage`);
    const commands = new Set([...r.out.slice(r.out.indexOf('Commands:')).matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]));
    for (const c of ['up', 'down', 'env', 'node', 'service', 'image', 'join-token', 'init', 'join', 'run', 'leave', 'help']) {
      t.ok(commands.has(c), `${args.join(' ')} lists ${c}`);
    }
    for (const c of ['check', 'chaos']) t.notOk(commands.has(c), `${args.join(' ')} does not list ${c}: test machinery, not product (npm run ${c})`);
    t.match(r.out, /-v, --version/, 'and the --version option');
  }
});

t.test('an unknown command prints one line and exits 1', async (t) => {
  const r = await shoalProcess(['frobnicate']);
  t.equal(oneLineError(r), null, 'exit 1 with one "shoal: " line on stderr');
  t.match(r.err, /frobnicate/, 'the line names the command');
  t.equal(r.out, '', 'nothing on stdout');
});

t.test('the bin runs as a program, as `npx shoal` runs it (execute bit and shebang)', async (t) => {
  const bin = distFile('bin/shoal.js');
  t.doesNotThrow(() => accessSync(bin, constants.X_OK), `${bin} is executable`);
  t.equal(execFileSync(bin, ['--version'], { encoding: 'utf8' }), `${pkgVersion}\n`, 'and runs by itself');
});
