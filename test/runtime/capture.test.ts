/**
 * capture(), the runtimes' helper-command runner, with real processes, both
 * ways it starts them: Node's spawn (what a CLI or a standalone runtime uses)
 * and the helper forker the node daemon names (useHelperForker): output and
 * exit codes, a missing program, cwd, env, uid and gid, a timeout that ends the whole
 * process group (also once its leader has exited, a background child holding
 * the pipes); the node's own commands take turns in their lane (at most 4
 * at once), a lane's queue does not hold up another lane, and a user's
 * commands (no lane) do not wait at all; the forker, not this process, is their parent;
 * and the forker does not keep a process alive.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { capture, useHelperForker, type Lane } from '../../src/worker/runtime/common/capture.js';
import { forkerAvailable } from '../../src/worker/supervisor/forker.js';
import { waitFor } from '../helpers/wait.js';
import { alive } from '../helpers/proc-alive.js';

const PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const dir = mkdtempSync(path.join(tmpdir(), 'shoal-capture-'));
t.teardown(() => {
  useHelperForker(null);
  rmSync(dir, { recursive: true, force: true });
});


/** The most commands whose [start, end] intervals (logged by each) overlap at once; an end sorts before a start at the same time. */
function maxOverlap(log: string): number {
  const ev = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .map(([k, ns]) => ({ d: k === 's' ? 1 : -1, at: BigInt(ns!) }))
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.d - b.d));
  let cur = 0;
  let max = 0;
  for (const e of ev) max = Math.max(max, (cur += e.d));
  return max;
}

const bin = forkerAvailable();
const modes: { label: string; forker: boolean }[] = [{ label: 'node spawn', forker: false }];
if (bin) modes.push({ label: `${bin.kind} helper forker`, forker: true });
else t.comment('no forker on this machine: only the Node spawn path is tested');

for (const mode of modes) {
  t.test(mode.label, async (t) => {
    useHelperForker(null);
    if (mode.forker) useHelperForker(bin);

    const r = await capture(['sh', '-c', 'echo out; echo err >&2; exit 3'], { env: { PATH } });
    t.equal(r.exitCode, 3, 'the exit code comes through');
    t.match(r.output, /out/, 'stdout is captured');
    t.match(r.output, /err/, 'stderr is captured');
    t.notOk(r.timedOut);

    const missing = await capture(['/nonexistent/shoal-helper'], { env: { PATH } });
    t.equal(missing.exitCode, 127, 'a missing program is exit 127');
    t.match(missing.error ?? '', /ENOENT|No such file/, `and says why: ${missing.error}`);

    const ctx = await capture(['sh', '-c', 'pwd; echo "v=$SHOAL_CAPTURE_V"'], { cwd: dir, env: { PATH, SHOAL_CAPTURE_V: 'x y' } });
    t.equal(ctx.output, `${dir}\nv=x y\n`, 'cwd and env are the ones asked for');

    if (process.getuid?.() === 0) {
      const as = await capture(['sh', '-c', 'echo $(id -u):$(id -g)'], { env: { PATH }, uid: 65534, gid: 65534 });
      t.equal(as.output, '65534:65534\n', 'uid and gid are the ones asked for');
    }

    // The timeout ends the whole group: a background child that holds the pipe too.
    const pidFile = path.join(dir, `bg-${mode.forker ? 'f' : 'n'}.pid`);
    const slow = await capture(['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`], { env: { PATH }, timeoutMs: 300 });
    t.equal(slow.exitCode, 137, 'a helper past its deadline is SIGKILLed (137)');
    t.ok(slow.timedOut, 'and reported as timed out');
    const bg = Number(readFileSync(pidFile, 'utf8'));
    await waitFor(() => !alive(bg), { timeoutMs: 5_000, what: 'the timed-out helper\'s background child to die with its group' });
    t.pass('its background child died with it');

    // The leader exits at once; its background child holds the pipes until the deadline ends the group.
    const orphanPid = path.join(dir, `orphan-${mode.forker ? 'f' : 'n'}.pid`);
    const orphan = await capture(['sh', '-c', `sleep 30 & echo $! > ${orphanPid}; exit 0`], { env: { PATH }, timeoutMs: 300 });
    t.ok(orphan.timedOut, 'a helper whose leader exited but whose background child holds the pipes times out too');
    const op = Number(readFileSync(orphanPid, 'utf8'));
    await waitFor(() => !alive(op), { timeoutMs: 5_000, what: 'the background child of the exited helper to be killed with its group' });
    t.pass('its background child was killed with the group');

    if (mode.forker) {
      const parent = await capture(['sh', '-c', 'cat /proc/$PPID/comm'], { env: { PATH } });
      t.not(parent.output.trim(), 'node', `the helper's parent is the forker (${parent.output.trim()}), not this process`);
    }

    // A lane takes turns; a user's commands do not.
    const oneRun = async (lane: Lane | undefined, label: string) => {
      const log = path.join(dir, `${label}-${mode.forker ? 'f' : 'n'}.log`);
      const script = `echo "s $(date +%s%N)" >> ${log}; sleep 0.4; echo "e $(date +%s%N)" >> ${log}`;
      const all = await Promise.all(Array.from({ length: 10 }, () => capture(['sh', '-c', script], { env: { PATH }, ...(lane ? { lane } : {}) })));
      t.ok(all.every((x) => x.exitCode === 0), `${label}: all 10 ran`);
      return maxOverlap(log);
    };
    const hk = await oneRun('mounts', 'mounts');
    t.ok(hk <= 4, `a lane: at most 4 at once (${hk})`);
    t.ok(hk >= 2, `a lane: but more than one at a time (${hk})`);
    const user = await oneRun(undefined, 'user');
    t.ok(user > 4, `a user's commands are not held to a lane's turns (${user} at once)`);

    // A full lane of slow copies does not hold up the mounts lane.
    const copies = Array.from({ length: 6 }, () => capture(['sleep', '3'], { env: { PATH }, lane: 'copies' }));
    const t0 = performance.now();
    const quick = await capture(['true'], { env: { PATH }, lane: 'mounts' });
    const waited = performance.now() - t0;
    t.equal(quick.exitCode, 0);
    t.ok(waited < 2_500, `a mount did not wait for the copies lane (${Math.round(waited)} ms)`);
    await Promise.all(copies);
  });
}

t.test('the helper forker does not keep its process alive', { skip: bin ? false : 'no forker on this machine' }, async (t) => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const captureJs = path.resolve(here, '../../src/worker/runtime/common/capture.js');
  const forkerJs = path.resolve(here, '../../src/worker/supervisor/forker.js');
  const script = `
    const { capture, useHelperForker } = await import(${JSON.stringify(captureJs)});
    const { forkerAvailable } = await import(${JSON.stringify(forkerJs)});
    useHelperForker(forkerAvailable());
    const r = await capture(['sh', '-c', 'echo done'], { env: { PATH: '/usr/bin:/bin' } });
    process.stdout.write(r.output);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.equal(code, 0, 'the process ended by itself');
  t.equal(out, 'done\n', 'after its helper ran through the forker');
  t.ok(Date.now() - started < 20_000, `within ${Date.now() - started} ms`);
});
