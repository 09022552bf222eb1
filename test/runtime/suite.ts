/**
 * The behaviour every runtime must show, run against each real runtime by
 * its own test file (process, oci with runc and crun, docker): exit codes,
 * stop with a grace period (SIGTERM honoured, SIGKILL after it), logs (both
 * streams, tail, since, timestamps, follow), env/dir/command/args, limits
 * (memory → OOM reported, pids), re-adoption by a new Runtime after the
 * agent process died, and an exit that happened while no agent was alive.
 * No fixed sleeps: tasks pace themselves, the test waits on conditions.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { createRuntime, type ExitStatus, type LogLine, type LogOptions, type Runtime, type RuntimeName, type RuntimeOptions, type TaskRunSpec } from '../../src/worker/runtime/index.js';
import { distFile } from '../helpers/dist.js';
import { waitFor, within } from '../helpers/wait.js';

export interface SuiteTarget {
  /** Shown in test names: "process", "oci/runc", … */
  label: string;
  runtime: RuntimeName;
  opts: RuntimeOptions;
  image: string;
  specExtra?: Partial<TaskRunSpec>;
  /** Whether limits are enforced (process: only as root) — without them the limit tests would eat the machine. */
  enforcesLimits: boolean;
  /** Resolves once the task has exited, watched without any Runtime instance. */
  exitedOutsideRuntime(taskId: string): Promise<void>;
  /** Builds a Runtime; tests make a new one to simulate an agent restart. */
  make(): Runtime;
}

let seq = 0;
export function taskId(prefix: string): string {
  return `${prefix}${process.pid.toString(36)}${(seq++).toString(36)}${Date.now().toString(36).slice(-4)}`;
}

export function spec(target: SuiteTarget, id: string, over: Partial<TaskRunSpec>): TaskRunSpec {
  return { taskId: id, name: `t.${id}`, image: target.image, env: [], mounts: [], limits: {}, labels: { suite: 'runtime' }, ...target.specExtra, ...over };
}

export async function collect(rt: Runtime, id: string, opts: LogOptions = {}): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const l of rt.logs(id, opts)) out.push(l);
  return out;
}

/** create + start + wait, with a deadline. */
export async function runToExit(rt: Runtime, s: TaskRunSpec, ms = 20_000): Promise<ExitStatus> {
  await rt.prepare(s);
  await rt.create(s);
  await rt.start(s.taskId);
  return within(rt.wait(s.taskId), ms, `task ${s.taskId} to exit`);
}

const sh = (script: string) => ({ command: ['sh', '-c', script] });

/** A loop that exits 0 on SIGTERM: PID 1 in a container ignores signals it has no handler for. */
const TERM_OK = 'trap "echo got-term; exit 0" TERM; echo ready; while true; do sleep 0.05; done';
const TERM_IGNORED = 'trap "" TERM; echo ready; while true; do sleep 0.05; done';

async function untilLogged(rt: Runtime, id: string, text: string): Promise<void> {
  await waitFor(async () => (await collect(rt, id)).some((l) => l.line === text), { timeoutMs: 15_000, what: `"${text}" in the logs of ${id}` });
}

export function runtimeSuite(t: Test, target: SuiteTarget): void {
  const L = target.label;

  t.test(`${L}: exit codes`, async (t) => {
    const rt = target.make();
    const zero = spec(target, taskId('ok'), sh('exit 0'));
    const three = spec(target, taskId('no'), sh('exit 3'));
    const [a, b] = await Promise.all([runToExit(rt, zero), runToExit(rt, three)]);
    t.equal(a.exitCode, 0);
    t.equal(a.oomKilled, false);
    t.equal(b.exitCode, 3);
    t.notOk(b.signal, 'a plain exit has no signal');
    t.ok(!Number.isNaN(Date.parse(b.finishedAt)), 'finishedAt is a time');
    const info = await rt.inspect(three.taskId);
    t.equal(info?.state, 'exited');
    t.equal(info?.exit?.exitCode, 3);
    t.ok(info?.startedAt, 'startedAt recorded');
    t.same((await rt.wait(three.taskId)).exitCode, 3, 'wait after the exit answers at once');
    t.ok((await rt.list()).some((i) => i.taskId === zero.taskId && i.state === 'exited'), 'list shows it');
    await rt.remove(zero.taskId);
    await rt.remove(three.taskId);
    t.equal(await rt.inspect(zero.taskId), null, 'removed');
  });

  t.test(`${L}: create is idempotent and start of a created task runs it`, async (t) => {
    const rt = target.make();
    const s = spec(target, taskId('idem'), sh('echo once'));
    await rt.prepare(s);
    const c1 = await rt.create(s);
    const c2 = await rt.create(s);
    t.equal(c1.state, 'created');
    t.equal(c2.runtimeId, c1.runtimeId, 'the same container');
    await rt.start(s.taskId);
    t.equal((await within(rt.wait(s.taskId), 15_000, 'exit')).exitCode, 0);
    t.same((await collect(rt, s.taskId)).map((l) => l.line), ['once'], 'ran once');
    await rt.remove(s.taskId);
  });

  t.test(`${L}: stop honours SIGTERM within the grace period`, async (t) => {
    const rt = target.make();
    const s = spec(target, taskId('term'), sh(TERM_OK));
    await rt.prepare(s);
    await rt.create(s);
    await rt.start(s.taskId);
    await untilLogged(rt, s.taskId, 'ready');
    t.equal((await rt.inspect(s.taskId))?.state, 'running');
    const t0 = Date.now();
    await within(rt.stop(s.taskId, 10_000), 15_000, 'stop');
    t.ok(Date.now() - t0 < 5_000, `stopped well within the grace (${Date.now() - t0} ms)`);
    const e = await rt.wait(s.taskId);
    t.equal(e.exitCode, 0, 'the trap ran and exited 0');
    t.ok((await collect(rt, s.taskId)).some((l) => l.line === 'got-term'), 'the task saw SIGTERM');
    await rt.remove(s.taskId);
  });

  t.test(`${L}: stop escalates to SIGKILL after the grace period`, async (t) => {
    const rt = target.make();
    const s = spec(target, taskId('kill'), sh(TERM_IGNORED));
    await rt.prepare(s);
    await rt.create(s);
    await rt.start(s.taskId);
    await untilLogged(rt, s.taskId, 'ready');
    const t0 = Date.now();
    await within(rt.stop(s.taskId, 400), 15_000, 'stop');
    const took = Date.now() - t0;
    t.ok(took >= 350, `waited the grace period first (${took} ms)`);
    const e = await rt.wait(s.taskId);
    t.equal(e.exitCode, 137);
    t.equal(e.signal, 'SIGKILL');
    t.equal(e.oomKilled, false, 'a SIGKILL from stop is not an OOM kill');
    await rt.stop(s.taskId, 100); // stopping an exited task is a no-op
    await rt.remove(s.taskId);
  });

  t.test(`${L}: logs: both streams, tail, since, timestamps, follow`, async (t) => {
    const rt = target.make();
    const s = spec(target, taskId('logs'), sh('echo one; echo two; echo err1 >&2; echo three; sleep 0.3; echo late; printf no-newline'));
    t.equal((await runToExit(rt, s)).exitCode, 0);
    const all = await collect(rt, s.taskId);
    t.same(all.filter((l) => l.stream === 'stdout').map((l) => l.line), ['one', 'two', 'three', 'late', 'no-newline'], 'stdout lines in order, the last one without a newline kept');
    t.same(all.filter((l) => l.stream === 'stderr').map((l) => l.line), ['err1'], 'stderr apart');
    t.ok(all.every((l) => l.time > Date.now() - 60_000 && l.time <= Date.now()), 'every line has a timestamp');
    t.same((await collect(rt, s.taskId, { tail: 2 })).map((l) => l.line), ['late', 'no-newline'], 'tail 2');
    t.same(await collect(rt, s.taskId, { tail: 0 }), [], 'tail 0');
    const late = all.find((l) => l.line === 'late')!;
    const since = await collect(rt, s.taskId, { sinceMs: late.time, timestamps: true });
    t.same(since.map((l) => l.line), ['late', 'no-newline'], 'since the late line');
    t.ok(since.every((l) => l.time >= late.time), 'since filters by time');

    const f = spec(target, taskId('follow'), sh('echo ready; for i in 1 2 3; do sleep 0.1; echo f$i; done'));
    await rt.prepare(f);
    await rt.create(f);
    await rt.start(f.taskId);
    const followed = await within(collect(rt, f.taskId, { follow: true }), 15_000, 'follow to end when the task exits');
    t.same(followed.map((l) => l.line), ['ready', 'f1', 'f2', 'f3'], 'follow saw every line and ended with the task');
    await rt.remove(s.taskId);
    await rt.remove(f.taskId);
  });

  t.test(`${L}: env, dir, command and args`, async (t) => {
    const rt = target.make();
    const s = spec(target, taskId('env'), { command: ['sh', '-c', 'echo "$FOO|$(pwd)|$0|$1|$EMPTY|"', 'arg0'], args: ['arg1'], env: ['FOO=bar baz', 'EMPTY='], dir: '/tmp' });
    t.equal((await runToExit(rt, s)).exitCode, 0);
    t.same((await collect(rt, s.taskId)).map((l) => l.line), ['bar baz|/tmp|arg0|arg1||']);
    const a = spec(target, taskId('args'), { args: ['echo', 'only', 'args'] });
    t.equal((await runToExit(rt, a)).exitCode, 0);
    t.same((await collect(rt, a.taskId)).map((l) => l.line), ['only args'], 'Args alone run (no image entrypoint)');
    const missing = spec(target, taskId('nocmd'), { command: ['definitely-not-a-command-xyz'] });
    let code: number | undefined;
    try {
      code = (await runToExit(rt, missing)).exitCode;
    } catch (err) {
      t.match((err as Error).message, /not found|no such file|executable/i, 'a missing command fails start with a reason');
    }
    if (code !== undefined) t.equal(code, 127, 'a missing command exits 127');
    for (const x of [s, a, missing]) await rt.remove(x.taskId);
  });

  const noLimits = target.enforcesLimits ? false : 'limits are not enforced here (not root): skipping, an unlimited tail /dev/zero would eat the machine';
  t.test(`${L}: memory limit ends in an OOM kill reported as such`, { skip: noLimits }, async (t) => {
    const rt = target.make();
    const s = spec(target, taskId('oom'), { command: ['tail', '/dev/zero'], limits: { memoryBytes: 32 * 1024 * 1024 } });
    const e = await runToExit(rt, s);
    t.equal(e.exitCode, 137);
    t.equal(e.oomKilled, true, 'oomKilled');
    await rt.remove(s.taskId);
  });

  t.test(`${L}: pids limit stops a fork bomb`, { skip: noLimits }, async (t) => {
    const rt = target.make();
    const s = spec(target, taskId('pids'), { ...sh('for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & done; echo spawned-all'), limits: { pids: 6 } });
    const e = await runToExit(rt, s);
    const lines = await collect(rt, s.taskId);
    t.ok(lines.some((l) => /fork/i.test(l.line)), `fork failed: ${JSON.stringify(lines.map((l) => l.line).slice(0, 3))}`);
    t.not(e.exitCode, undefined);
    await rt.remove(s.taskId);
  });

  t.test(`${L}: a new Runtime re-adopts a running task after the agent died`, async (t) => {
    const s = spec(target, taskId('adopt'), sh('trap "echo bye; exit 7" TERM; echo ready; while true; do sleep 0.05; done'));
    await startInOtherProcess(target, s);
    const rt = target.make();
    await untilLogged(rt, s.taskId, 'ready');
    const listed = (await rt.list()).find((i) => i.taskId === s.taskId);
    t.equal(listed?.state, 'running', 'list() finds it running');
    const info = await rt.inspect(s.taskId);
    t.equal(info?.state, 'running');
    t.ok(info?.pid && info.pid > 0, 'with its pid');
    const waited = rt.wait(s.taskId);
    await within(rt.stop(s.taskId, 10_000), 15_000, 'stop of the adopted task');
    const e = await within(waited, 5_000, 'wait of the adopted task');
    t.equal(e.exitCode, 7, 'its real exit code');
    t.ok((await collect(rt, s.taskId)).some((l) => l.line === 'bye'));
    await rt.remove(s.taskId);
  });

  t.test(`${L}: an exit while no agent runs is kept for the next list()`, async (t) => {
    const s = spec(target, taskId('gone'), sh('echo ready; sleep 0.3; exit 5'));
    await startInOtherProcess(target, s);
    await within(target.exitedOutsideRuntime(s.taskId), 15_000, 'the task to exit with no Runtime alive');
    const rt = target.make();
    const listed = (await rt.list()).find((i) => i.taskId === s.taskId);
    t.equal(listed?.state, 'exited');
    t.equal(listed?.exit?.exitCode, 5, 'exit code kept');
    t.equal((await rt.wait(s.taskId)).exitCode, 5);
    await rt.remove(s.taskId);
  });
}

/** Creates and starts the task from a separate node process, then SIGKILLs that process. */
export async function startInOtherProcess(target: SuiteTarget, s: TaskRunSpec): Promise<void> {
  const child = spawn(process.execPath, [distFile('test/runtime/fixtures/start-task.js'), JSON.stringify({ runtime: target.runtime, opts: target.opts, spec: s })], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitFor(() => /^(started|failed)/m.test(out) || child.exitCode !== null, { timeoutMs: 20_000, what: 'the fixture agent to start the task' });
  if (!out.startsWith('started')) throw new Error(`fixture agent: ${out.trim() || `exited ${child.exitCode}`}`);
  child.kill('SIGKILL');
  await exited;
}

/**
 * For the shim-based runtimes: the shim wrote exit.json (it exits right after;
 * under tap its exit is slowed by tap's process-info hooks, so we do not wait
 * for the PID to go).
 */
export async function exitRecorded(stateDir: string, id: string): Promise<void> {
  await waitFor(() => existsSync(path.join(stateDir, 'tasks', id, 'exit.json')), { timeoutMs: 15_000, what: `exit.json of ${id}` });
}

/** The process runtime over a data dir, as the suite drives it (Args alone: no image, which it would run as the program). */
export function processTarget(label: string, dataDir: string): SuiteTarget {
  const opts: RuntimeOptions = { dataDir };
  const stateDir = path.join(dataDir, 'runtime', 'process');
  return {
    label,
    runtime: 'process',
    opts,
    image: '',
    enforcesLimits: process.getuid?.() === 0,
    make: () => createRuntime('process', opts),
    exitedOutsideRuntime: (id) => exitRecorded(stateDir, id),
  };
}
