/**
 * The task supervisor's holder with oci launches whose "runtime" is a real
 * process standing in for runc/crun (no root needed): with one creation
 * slot and a 500 ms creation deadline, a creation that never produces a
 * container PID is killed at the deadline, its start fails saying why, its
 * exit record says so too, and the start queued behind it gets the slot
 * and runs; a start removed while it waited for a slot is never run.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TaskHolder } from '../../src/worker/supervisor/holder.js';
import { newSupervisorMetrics } from '../../src/worker/supervisor/metrics.js';
import { DEFAULT_LOG_ROTATION } from '../../src/worker/runtime/common/log-format.js';
import type { LaunchSpec } from '../../src/worker/runtime/common/task-dir.js';
import { waitFor } from '../helpers/wait.js';

const root = mkdtempSync(path.join(tmpdir(), 'shoal-holder-slots-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

const exits = new Map<string, { exitCode: number; message?: string }>();
const holder = new TaskHolder(
  [root],
  DEFAULT_LOG_ROTATION,
  { started: () => {}, exited: (id, e) => void exits.set(id, e) },
  newSupervisorMetrics(),
  () => {},
  { ociCreatesAtOnce: 1, ociStartTimeoutMs: 500 },
);
t.teardown(() => holder.stopAll());

/** A task directory whose launch is an oci one run by `script` (sh), its pid file in the task dir. */
function task(id: string, script: (pidFile: string) => string): string {
  const dir = path.join(root, id);
  mkdirSync(dir, { recursive: true });
  const pidFile = path.join(dir, 'container.pid');
  const launch: LaunchSpec = {
    kind: 'oci',
    argv: ['/bin/sh', '-c', script(pidFile)],
    env: { PATH: '/usr/bin:/bin' },
    cwd: dir,
    rotation: DEFAULT_LOG_ROTATION,
    // /bin/false as the runtime: its `kill` fails, and the holder then kills the process itself.
    oci: { binary: '/bin/false', root: dir, containerId: id, pidFile, keep: false, memcgSuffix: `/shoal/${id}` },
  };
  writeFileSync(path.join(dir, 'launch.json'), JSON.stringify(launch));
  return dir;
}

t.test('a creation past its deadline is killed, and frees its slot for the next', async (t) => {
  const hung = task('hung', () => 'exec sleep 60');
  const next = task('next', (pidFile) => `echo $$ > ${pidFile}; exec sleep 60`);
  const t0 = performance.now();
  const hungStart = holder.start('hung', hung).then(
    () => new Error('the hung task started'),
    (err: Error) => err,
  );
  let nextAfter = 0;
  const nextStart = holder.start('next', next).then((r) => {
    nextAfter = performance.now() - t0;
    return r;
  });
  const err = await hungStart;
  const failedAfter = performance.now() - t0;
  t.type(err, Error, 'the hung start failed');
  t.match((err as Error).message, /did not create the container within 500 ms/, `and says why: ${(err as Error).message}`);
  t.ok(failedAfter >= 450, `at its deadline (${Math.round(failedAfter)} ms)`);
  const r = await nextStart;
  // The slot is freed at the deadline; the hung start's failure is reported when its process has gone, which may come later.
  t.ok(nextAfter >= 450, `the start queued behind it ran only once the slot was freed at the deadline (${Math.round(nextAfter)} ms)`);
  t.ok(r.pid > 0, `the next one runs (pid ${r.pid})`);
  await waitFor(() => exits.has('hung'), { timeoutMs: 5_000, what: "the hung task's exit to be recorded" });
  t.equal(exits.get('hung')!.exitCode, 137, 'the hung creation was SIGKILLed');
  t.match(exits.get('hung')!.message ?? '', /did not create the container/, 'its exit record says why');
  t.match(JSON.parse(readFileSync(path.join(hung, 'exit.json'), 'utf8')).message, /did not create the container/, 'exit.json too');
});

t.test('a start whose task was removed while it waited for a slot is not run', async (t) => {
  const hung = task('hung2', () => 'exec sleep 60');
  const gone = task('gone', (pidFile) => `echo $$ > ${pidFile}; exec sleep 60`);
  const hungStart = holder.start('hung2', hung).catch((err: Error) => err);
  const goneStart = holder.start('gone', gone).catch((err: Error) => err);
  // Its caller gave up and removed it while the hung creation held the only slot.
  rmSync(gone, { recursive: true, force: true });
  t.type(await hungStart, Error, 'the hung creation failed at its deadline');
  const err = await goneStart;
  t.type(err, Error, 'the removed task was not started');
  t.match((err as Error).message, /removed while it waited/, (err as Error).message);
});
