/**
 * releaseLeftovers (src/node/leftovers.ts), which every `shoal down` now
 * runs, kills the process group of a task that outlived its node only when
 * the PID is still that task's process: its start time in /proc must match
 * the one the supervisor recorded in started.json. A PID the kernel has
 * since given to someone else's process (a task that ended days ago) is left
 * alone.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { releaseLeftovers } from '../../src/node/leftovers.js';
import { procStartTime } from '../../src/worker/runtime/common/proc.js';
import { waitFor } from '../helpers/wait.js';

/** Running, not a zombie waiting to be reaped (a killed child of this process is one until then). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

t.test('a recorded PID is killed only while it is the same process', async (t) => {
  const dir = t.testdir({});
  // Its own process group, as a task's is (the forker's setsid).
  const other = spawn('sleep', ['120'], { detached: true, stdio: 'ignore' });
  t.teardown(() => other.kill('SIGKILL'));
  const pid = other.pid!;
  await waitFor(() => procStartTime(pid) !== null, { timeoutMs: 10_000, what: 'the process to run' });
  const task = path.join(dir, 'data', 'runtime', 'process', 'tasks', 'aaaaaaaaaaaaaaaaaaaaaaaaa');
  mkdirSync(task, { recursive: true });
  const record = (startTime: string) => writeFileSync(path.join(task, 'started.json'), JSON.stringify({ pid, pidStartTime: startTime, startedAt: new Date().toISOString() }));

  record(String(Number(procStartTime(pid)) - 1000));
  await releaseLeftovers(dir);
  t.ok(alive(pid), 'another start time: someone else has that PID now, and it lives');

  record(procStartTime(pid)!);
  await releaseLeftovers(dir);
  await waitFor(() => other.signalCode !== null, { timeoutMs: 10_000, what: 'the task process to be killed' });
  t.equal(other.signalCode, 'SIGKILL', 'the same start time: the task that outlived its node is killed');
});
