/**
 * The per-task supervisor ("shim", conmon-style), one small Node process per
 * running task, started detached by the process and oci runtimes:
 *
 *   node --max-old-space-size=32 shim/main.js <taskDir>
 *
 * It outlives the agent (own session, stdio on /dev/null), so a restarted
 * agent re-adopts the task from the task dir. It
 *   1. records itself in shim.json,
 *   2. spawns launch.json's argv in a new session (the task, or `runc run` in
 *      the foreground — never `run -d`, whose container is re-parented to PID 1
 *      and its exit code lost),
 *   3. copies stdout/stderr into rotated log files,
 *   4. delivers signals the agent asks for (kill.req + SIGUSR2): it is the
 *      task's parent, so the PID cannot be recycled under it,
 *   5. on exit, works out the exit status (OOM from the cgroup counter or the
 *      kernel log), cleans up, writes exit.json atomically and exits.
 * Imports only node built-ins and a few small modules, to stay small.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { readJson, writeJsonAtomic } from '../common/atomic.js';
import { destroyTaskCgroups, oomKillCount, procCgroupDir, TASK_CONTROLLERS, type Controller } from '../common/cgroup.js';
import { kmsgReportsOomKill } from '../common/kmsg.js';
import { LogWriter } from '../common/log-writer.js';
import { procRef, procStartTime } from '../common/proc.js';
import { exitCodeForSignal, signalName } from '../common/signals.js';
import { F, taskFile, type ExitRecord, type LaunchSpec, type ShimRecord, type StartedRecord } from '../common/task-dir.js';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: shim <taskDir>\n');
  process.exit(2);
}

function diag(msg: string): void {
  try {
    appendFileSync(taskFile(dir!, 'shimLog'), `${new Date().toISOString()} ${msg}\n`);
  } catch {
    /* nowhere left to say it */
  }
}

const launch = readJson<LaunchSpec>(taskFile(dir, 'launch'));
if (!launch) {
  diag('launch.json missing or unreadable');
  process.exit(2);
}

// The task directory is the only handle anyone has on this task. If it is deleted (the node's
// data dir wiped, a test cluster torn down), no agent can ever adopt, stop or remove the task:
// end it rather than leave it running forever.
const orphanCheck = setInterval(() => {
  if (existsSync(dir)) return;
  clearInterval(orphanCheck);
  endOrphan();
}, 2_000);

// Fencing: the node agent keeps its lease file fresh while its process lives.
// If the node process dies, the managers reschedule this task elsewhere once
// the lease is surely stale; we must be gone by then, not run on beside the
// replacement with nobody supervising us.
let fenced = false;
const fence = launch.fence;
const fenceCheck = fence
  ? setInterval(() => {
      let age: number;
      try {
        age = Date.now() - statSync(fence.leaseFile).mtimeMs;
      } catch {
        age = Infinity;
      }
      if (age <= fence.afterMs || exited || finished) return;
      clearInterval(fenceCheck!);
      fenced = true;
      const why = `fenced: the node agent's lease is ${age === Infinity ? 'gone' : `${Math.round(age)} ms old`} (limit ${fence.afterMs} ms); the task is rescheduled elsewhere`;
      diag(why);
      logs.note(why);
      endOrphan();
    }, 250)
  : null;
fenceCheck?.unref();

function endOrphan(): void {
  if (exited || finished) return;
  if (launch!.kind === 'process') return deliver('SIGKILL');
  // runc's state may have gone with the directory: kill the container's init (our child runc is
  // its parent, so the PID is still it), then runc itself if the container never got that far.
  deliver('SIGKILL');
  try {
    if (started) process.kill(started.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  } catch {
    /* gone */
  }
}

// Installed before shim.json names us: the agent signals only a shim it found there, and
// SIGUSR2's default action would end us.
process.on('SIGUSR2', () => {
  const req = (() => {
    try {
      return readFileSync(taskFile(dir, 'kill'), 'utf8').trim();
    } catch {
      return '';
    }
  })();
  const sig = signalName(req);
  if (!sig) return diag(`ignoring kill request ${JSON.stringify(req)}`);
  deliver(sig);
});

const me = procRef(process.pid);
writeJsonAtomic(taskFile(dir, 'shim'), { pid: process.pid, startTime: me?.startTime ?? '', startedAt: new Date().toISOString() } satisfies ShimRecord);

// Signals meant for a terminal or a parent must not end the supervisor.
for (const s of ['SIGHUP', 'SIGINT', 'SIGPIPE'] as const) process.on(s, () => {});

const logs = new LogWriter(path.join(dir, F.logs), launch.rotation);
const spawnedAt = Date.now();
let started: StartedRecord | undefined;
let pendingSignal: NodeJS.Signals | undefined;
let exited = false;
let finished = false;

const child: ChildProcess = spawn(launch.argv[0]!, launch.argv.slice(1), {
  cwd: launch.cwd,
  env: launch.env,
  detached: true, // setsid: the task leads its own process group, which stop() signals as a whole
  stdio: ['ignore', 'pipe', 'pipe'],
  ...(launch.uid !== undefined ? { uid: launch.uid } : {}),
  ...(launch.gid !== undefined ? { gid: launch.gid } : {}),
});
child.stdout!.on('data', (c: Buffer) => logs.write('stdout', c));
child.stderr!.on('data', (c: Buffer) => logs.write('stderr', c));

child.once('error', (err: NodeJS.ErrnoException) => {
  // spawn itself failed (binary or cwd missing, bad uid): there is no task to wait for.
  if (finished || child.pid !== undefined) return diag(`child error: ${err.message}`);
  const msg = `cannot start ${launch.argv[0]}: ${err.message}`;
  logs.note(msg);
  finish({ exitCode: err.code === 'ENOENT' ? 127 : 126, oomKilled: false, finishedAt: new Date().toISOString(), message: msg });
});

child.once('spawn', () => {
  if (launch.kind === 'process') {
    const pid = child.pid!;
    recordStarted({ pid, pidStartTime: procStartTime(pid) ?? undefined, startedAt: new Date(spawnedAt).toISOString() });
  } else {
    void awaitContainerPid();
  }
});

child.once('exit', (code, signal) => {
  exited = true;
  // A container that ran and exited between two polls of the pid file still ran: runc wrote its PID.
  if (launch.kind === 'oci' && !started) {
    const pid = readPidFile(launch.oci!.pidFile);
    if (pid > 0) recordStarted({ pid, startedAt: new Date(spawnedAt).toISOString(), ...(launch.oci!.expectedMemcgDir ? { memcgDir: launch.oci!.expectedMemcgDir } : {}) });
  }
  // Leftovers of the task (background children) would keep our pipes open: end them now.
  if (launch.kind === 'process' && child.pid) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* group already empty */
    }
  }
  const status = exitStatus(code, signal);
  // Give the pipes a moment to drain, but never hang on a descendant that escaped the group.
  const timer = setTimeout(() => finish(status), 2_000);
  child.once('close', () => {
    clearTimeout(timer);
    finish(status);
  });
});

function deliver(sig: NodeJS.Signals): void {
  if (exited || finished) return;
  if (launch!.kind === 'process') {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      try {
        child.kill(sig);
      } catch (err) {
        diag(`kill ${sig}: ${(err as Error).message}`);
      }
    }
    return;
  }
  if (!started) {
    // The container is still being created; runc kill would fail. Deliver once it has a PID.
    pendingSignal = sig;
    return;
  }
  const o = launch!.oci!;
  const args = ['--root', o.root, 'kill', ...(sig === 'SIGKILL' ? ['--all'] : []), o.containerId, sig.slice(3)];
  const k = spawn(o.binary, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: launch!.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
  let err = '';
  k.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  k.on('error', (e) => diag(`${o.binary} kill: ${e.message}`));
  k.on('exit', (c) => {
    if (c !== 0 && !exited) diag(`${o.binary} kill ${sig} exited ${c}: ${err.trim()}`);
  });
}

function recordStarted(rec: StartedRecord): void {
  if (finished) return;
  started = rec;
  writeJsonAtomic(taskFile(dir!, 'started'), rec);
  if (pendingSignal) deliver(pendingSignal);
}

/** runc writes the container's init PID to --pid-file once it exists; poll for it while runc runs. */
async function awaitContainerPid(): Promise<void> {
  const o = launch!.oci!;
  for (let i = 0; !exited; i++) {
    const pid = readPidFile(o.pidFile);
    if (pid > 0 && !exited) {
      const cgroupDirs: Partial<Record<Controller, string>> = {};
      for (const c of TASK_CONTROLLERS) {
        const d = procCgroupDir(c, pid);
        if (d) cgroupDirs[c] = d;
      }
      recordStarted({
        pid,
        pidStartTime: procStartTime(pid) ?? undefined,
        startedAt: new Date().toISOString(),
        memcgDir: cgroupDirs.memory ?? o.expectedMemcgDir,
        cgroupDirs,
      });
      return;
    }
    await new Promise((r) => setTimeout(r, i < 50 ? 5 : 50));
  }
}

function readPidFile(file: string): number {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) ? pid : 0;
  } catch {
    return 0; // not written (yet)
  }
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): ExitRecord {
  const finishedAt = new Date().toISOString();
  if (launch!.kind === 'process') {
    const exitCode = code ?? exitCodeForSignal(signal ?? 'SIGKILL');
    const oomKilled = signal === 'SIGKILL' && (oomKillCount(launch!.cgroups?.memory) ?? 0) > 0;
    return { exitCode, ...(signal ? { signal } : {}), oomKilled, finishedAt };
  }
  // runc/crun in the foreground exit with the container's status: 128+N for a signal death.
  const o = launch!.oci!;
  const exitCode = code ?? exitCodeForSignal(signal ?? 'SIGKILL');
  const sig = exitCode > 128 && exitCode < 128 + 65 ? signalName(exitCode - 128) : null;
  let oomKilled = false;
  if (exitCode === 137) {
    const memcg = started?.memcgDir ?? o.expectedMemcgDir;
    const count = oomKillCount(memcg);
    oomKilled = count !== null ? count > 0 : kmsgReportsOomKill(o.memcgSuffix, spawnedAt);
  }
  return { exitCode, ...(sig ? { signal: sig } : {}), oomKilled, finishedAt };
}

function finish(status: ExitRecord): void {
  if (finished) return;
  finished = true;
  if (fenceCheck) clearInterval(fenceCheck);
  if (fenced) status = { ...status, message: "fenced: the node agent was gone; the task was killed so it can't run beside its replacement" };
  void cleanUp().then(
    () => record(status),
    (err: Error) => {
      diag(`clean-up: ${err.message}`);
      record(status);
    },
  );
}

/** Everything the task left, before exit.json says it is over (so a caller that waited can remove at once). */
async function cleanUp(): Promise<void> {
  try {
    logs.close();
  } catch (err) {
    diag(`closing logs: ${(err as Error).message}`);
  }
  if (launch!.kind === 'process' && launch!.cgroups) {
    // The kernel needs a moment to empty a cgroup after its last task is killed.
    for (let i = 0; i < 100 && destroyTaskCgroups(launch!.cgroups).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  }
  if (launch!.kind === 'oci') {
    const o = launch!.oci!;
    if (o.keep) {
      const r = spawnSync(o.binary, ['--root', o.root, 'delete', '--force', o.containerId], { encoding: 'utf8', env: { PATH: launch!.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
      if (r.status !== 0) {
        diag(`${o.binary} delete: ${r.stderr?.trim() || r.error?.message}`);
        // Its state is gone (orphaned): at least do not leave its cgroups behind.
        if (started?.cgroupDirs) destroyTaskCgroups(started.cgroupDirs);
      }
    }
    rmSync(o.pidFile, { force: true });
  }
}

function record(status: ExitRecord): void {
  try {
    writeJsonAtomic(taskFile(dir!, 'exit'), status);
  } catch (err) {
    diag(`cannot write exit.json: ${(err as Error).message}`);
  }
  process.exit(0);
}
