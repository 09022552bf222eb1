import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { main } from '../../src/cli/program.js';
import { HARNESS_COMMANDS } from '../../chaos-tests/cli/index.js';
import { testdata } from './helpers.js';
import { distFile } from '../helpers/dist.js';

const jepsen = (f: string) => path.join(testdata, 'jepsen-etcd', f);
const kvFile = (f: string) => path.join(testdata, 'kv', f);

/**
 * Runs the CLI in-process and captures what it writes. Only main() runs while
 * stdout is captured, and tap writes nothing in between, so tap's own TAP
 * stream is untouched.
 */
async function shoal(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = process.stdout.write;
  const stderr = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => ((out += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((err += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(args, HARNESS_COMMANDS);
    return { code, out, err };
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  }
}

t.test('verdicts and exit codes', async (t) => {
  let r = await shoal('check', '--model', 'cas-register', jepsen('etcd_002.log'));
  t.same(r, { code: 0, out: 'linearizable\n', err: '' });

  r = await shoal('check', '--model', 'cas-register', jepsen('etcd_001.log'));
  t.equal(r.code, 1);
  t.equal(r.err, '');
  const lines = r.out.trimEnd().split('\n');
  t.equal(lines[0], 'not linearizable');
  t.match(lines[1], /no linearization of \d+ operations gets past the one marked >>/);
  t.ok(lines.some((l) => /^\s+>> client \d+ +call +\d+ +ret +\d+ +read\(\) -> /.test(l)), 'marks the stuck op');
  t.ok(lines.length <= 13, 'a short window');

  r = await shoal('check', '-m', 'kv', kvFile('c10-ok.txt'));
  t.same(r, { code: 0, out: 'linearizable\n', err: '' });
  r = await shoal('check', '--model', 'kv', kvFile('c10-bad.txt'));
  t.equal(r.code, 1);
  t.match(r.out, /^not linearizable\nkey "/);
});

t.test('timeout: unknown, exit 2', async (t) => {
  // 12 concurrent appends and a read no order explains: 12! orders to rule out.
  const dir = t.testdir();
  const lines: string[] = [];
  for (let p = 0; p < 12; p++) lines.push(`{:process ${p}, :type :invoke, :f :append, :key "k", :value "${p}"}`);
  for (let p = 0; p < 12; p++) lines.push(`{:process ${p}, :type :ok, :f :append, :key "k", :value "${p}"}`);
  lines.push('{:process 99, :type :invoke, :f :get, :key "k", :value nil}', '{:process 99, :type :ok, :f :get, :key "k", :value "nope"}');
  const file = path.join(dir, 'hard.edn');
  writeFileSync(file, lines.join('\n'));
  const r = await shoal('check', '--model', 'kv', '--timeout', '0.2', file);
  t.same(r, { code: 2, out: 'unknown (timed out after 200 ms)\n', err: '' });
});

t.test('bad arguments: one line on stderr saying what to fix, exit 1', async (t) => {
  const oneLine = (r: { code: number; out: string; err: string }, re: RegExp) => {
    t.equal(r.code, 1);
    t.equal(r.out, '');
    t.equal(r.err.split('\n').filter(Boolean).length, 1, 'one line');
    t.match(r.err, re);
  };
  oneLine(await shoal('check', jepsen('etcd_002.log')), /--model is required: use --model kv or --model cas-register/);
  oneLine(await shoal('check', '--model', 'register', jepsen('etcd_002.log')), /unknown model 'register'/);
  oneLine(await shoal('check', '--model', 'kv'), /missing required argument 'file'/);
  oneLine(await shoal('check', '--model', 'kv', '/nonexistent/h.edn'), /cannot read history file \/nonexistent\/h.edn: no such file/);
  oneLine(await shoal('check', '--model', 'kv', testdata), /it is a directory/);
  oneLine(await shoal('check', '--model', 'kv', '--timeout', 'soon', kvFile('c01-ok.txt')), /--timeout must be a positive number of seconds/);
  oneLine(await shoal('check', '--model', 'kv', jepsen('etcd_002.log')), /etcd_002\.log:1: expected '\{'.*--model kv expects one EDN map per line/);
  oneLine(await shoal('check', '--model', 'cas-register', kvFile('c01-ok.txt')), /no operations found; --model cas-register expects a Jepsen etcd log/);
});

t.test('help documents the exit codes', async (t) => {
  // commander prints help through process.stdout.write and exits through main() with 0.
  const r = await shoal('check', '--help');
  t.equal(r.code, 0);
  t.match(r.out, /--model <model>/);
  t.match(r.out, /2 +unknown/);
});

t.test('the real binary (one spawn)', async (t) => {
  // npm test builds first (pretest); the checker is harness, so it runs from the build tree.
  const bin = distFile('chaos-tests/cli/main.js');
  const ok = execFileSync(process.execPath, [bin, 'check', '--model', 'kv', kvFile('c01-ok.txt')], { encoding: 'utf8' });
  t.equal(ok, 'linearizable\n');
  const bad = spawnSync(process.execPath, [bin, 'check', '--model', 'cas-register', jepsen('etcd_003.log')], { encoding: 'utf8' });
  t.equal(bad.status, 1);
  t.match(bad.stdout, /^not linearizable\n/);
  const usage = spawnSync(process.execPath, [bin, 'check', '--model', 'kv', '/nonexistent'], { encoding: 'utf8' });
  t.equal(usage.status, 1);
  t.equal(usage.stderr, 'shoal: cannot read history file /nonexistent: no such file\n');
});
