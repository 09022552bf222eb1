/**
 * The process runtime, for real: the shared suite (suite.ts) plus what only
 * host processes have — the image is the program (no image: Args alone;
 * process-argv.test.ts has the details), mounts reported as not applied,
 * cgroup files when root, and the node's task supervisor: one process for
 * every task, whose death takes its tasks along (never an unsupervised task).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createRuntime, RuntimeError } from '../../src/worker/runtime/index.js';
import { waitFor, within } from '../helpers/wait.js';
import { collect, processTarget, runtimeSuite, spec, taskId } from './suite.js';

const isRoot = process.getuid?.() === 0;
const dataDir = mkdtempSync(path.join(tmpdir(), 'shoal-rt-process-'));
const target = processTarget('process', dataDir);
const { make } = target;

async function supervisorPid(rt: ReturnType<typeof make>): Promise<number> {
  return (await (rt as unknown as { tasks: { supervisor: { hello(): Promise<{ pid: number }> } } }).tasks.supervisor.hello()).pid;
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** Temporary dirs, removed at exit: a runtime client still open respawns its supervisor, which makes its dir again. */
const scratch = [dataDir];
process.on('exit', () => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

t.teardown(async () => {
  const rt = make();
  for (const i of await rt.list()) await rt.remove(i.taskId).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

runtimeSuite(t, target);

t.test('process: something to run is required; the image is the program unless Command overrides it', async (t) => {
  const rt = make();
  await t.rejects(rt.create(spec(target, taskId('empty'), {})), { code: 'INVALID_SPEC', message: /nothing to run/ });
  const image = 'no-such-registry.example/nothing:1';
  await t.rejects(rt.create(spec(target, taskId('img'), { image, args: ['true'] })), { code: 'INVALID_SPEC', message: /^executable file not found: "no-such-registry\.example\/nothing:1"/ });
  t.ok((await rt.create(spec(target, taskId('cmd'), { image, command: ['true'] }))).taskId, 'Command overrides the image');
  await t.rejects(rt.create(spec(target, taskId('dir'), { args: ['true'], dir: '/does/not/exist' })), RuntimeError);
});

t.test('process: mounts and hostname are reported as not applied', async (t) => {
  const rt = make();
  const s = spec(target, taskId('warn'), { args: ['true'], hostname: 'h', mounts: [{ type: 'tmpfs', target: '/x' }] });
  const c = await rt.create(s);
  t.match(c.warnings?.join('\n'), /mounts not applied[\s\S]*hostname not applied/);
  await rt.remove(s.taskId);
});

t.test('process: own process group and environment', async (t) => {
  const rt = make();
  process.env.SHOAL_LEAK_CHECK = 'leaked';
  const s = spec(target, taskId('pg'), { command: ['sh', '-c', 'echo "pgid=$(ps -o pgid= -p $$ | tr -d " ") pid=$$"'] });
  const e = spec(target, taskId('env'), { command: ['env'], env: ['A=1'] });
  for (const x of [s, e]) {
    await rt.create(x);
    await rt.start(x.taskId);
    t.equal((await within(rt.wait(x.taskId), 10_000, 'exit')).exitCode, 0);
  }
  const line = (await collect(rt, s.taskId))[0]?.line ?? '';
  const m = /^pgid=(\d+) pid=(\d+)$/.exec(line);
  t.ok(m && m[1] === m[2], `leads its own process group: ${line}`);
  // tap's process-info hook adds NODE_OPTIONS and _TAPJS_* to every process the test spawns
  // (the shim included, and so the task); outside tap they are absent.
  // (Some of those values span lines: keep only lines that start a NAME=value.)
  const names = (await collect(rt, e.taskId))
    .filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l.line))
    .map((l) => l.line.split('=')[0]!)
    .filter((n) => n !== 'NODE_OPTIONS' && !n.startsWith('_TAPJS_'));
  t.same(names.sort(), ['A', 'HOME', 'PATH'], 'only the task env plus PATH and HOME, nothing of the agent\'s');
  delete process.env.SHOAL_LEAK_CHECK;
  await rt.remove(s.taskId);
  await rt.remove(e.taskId);
});

t.test('process: cgroup limits are written when root', { skip: isRoot ? false : 'not root: no cgroups' }, async (t) => {
  const rt = make();
  const s = spec(target, taskId('cg'), { args: ['sh', '-c', 'echo ready; while true; do sleep 0.05; done'], limits: { memoryBytes: 64 << 20, nanoCpus: 250_000_000, pids: 50 } });
  await rt.create(s);
  await rt.start(s.taskId);
  const pid = (await rt.inspect(s.taskId))!.pid!;
  const cg = await waitFor(
    () => {
      const text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      return text.includes(`/shoal/${s.taskId}`) ? text : null;
    },
    { what: 'the task in its cgroup' },
  );
  const memPath = /:memory:(.*)$/m.exec(cg)![1]!;
  t.equal(readFileSync(path.join('/sys/fs/cgroup/memory', memPath, 'memory.limit_in_bytes'), 'utf8').trim(), String(64 << 20));
  const cpuPath = /:cpu:(.*)$/m.exec(cg)?.[1] ?? /:cpu,cpuacct:(.*)$/m.exec(cg)![1]!;
  t.equal(readFileSync(path.join('/sys/fs/cgroup/cpu', cpuPath, 'cpu.cfs_quota_us'), 'utf8').trim(), '25000', '0.25 CPU of a 100 ms period');
  const pidsPath = /:pids:(.*)$/m.exec(cg)![1]!;
  t.equal(readFileSync(path.join('/sys/fs/cgroup/pids', pidsPath, 'pids.max'), 'utf8').trim(), '50');
  const st = await waitFor(async () => {
    const x = await rt.stats(s.taskId);
    return (x.pids ?? 0) >= 1 && (x.memoryBytes ?? 0) > 0 ? x : null;
  }, { what: 'stats from the cgroup' });
  t.ok(st.cpuNanos !== undefined, 'cpu accounted');
  const ex = await rt.exec!(s.taskId, ['sh', '-c', 'echo from-exec; exit 4'], 5_000);
  t.same(ex, { exitCode: 4, output: 'from-exec\n' });
  await rt.remove(s.taskId);
  t.throws(() => readFileSync(path.join('/sys/fs/cgroup/memory', memPath, 'memory.limit_in_bytes')), 'the cgroup is gone after remove');
});

t.test('process: every task is a child of one supervisor (through its forker); killing it kills them, and their exit says so', async (t) => {
  const rt = make();
  const ids = [taskId('sup1'), taskId('sup2'), taskId('sup3')];
  for (const id of ids) {
    await rt.create(spec(target, id, { args: ['sh', '-c', 'trap "" TERM PIPE; while true; do sleep 0.05; done'] }));
    await rt.start(id);
  }
  const sup = await supervisorPid(rt);
  const pids = await Promise.all(ids.map(async (id) => (await rt.inspect(id))!.pid!));
  const ppid = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  const forkers = new Set(pids.map(ppid));
  t.equal(forkers.size, 1, 'one parent for every task');
  const forker = [...forkers][0]!;
  t.equal(ppid(forker), sup, `their parent ${forker} is the supervisor's own child (the forker)`);
  t.match(readFileSync(`/proc/${forker}/cmdline`, 'utf8'), /^(\S*\/dist\/native\/shoal-forker|\/usr\/bin\/perl\0-e)\0/, 'the forker is the C or the Perl one');
  const exits = ids.map((id) => rt.wait(id));
  process.kill(sup, 'SIGKILL');
  await waitFor(() => pids.every(gone), { timeoutMs: 10_000, what: 'every task to die with its supervisor (PR_SET_PDEATHSIG)' });
  for (const e of await within(Promise.all(exits), 10_000, 'the exits')) {
    t.equal(e.exitCode, 137);
    t.match(e.message, /supervisor .*died/, `the exit says why: ${e.message}`);
  }
  // A new supervisor starts on demand for the next task.
  const next = spec(target, taskId('sup4'), { args: ['sh', '-c', 'echo again'] });
  await rt.create(next);
  await rt.start(next.taskId);
  t.equal((await within(rt.wait(next.taskId), 10_000, 'exit')).exitCode, 0);
  t.not(await supervisorPid(rt), sup, 'a fresh supervisor');
  for (const id of [...ids, next.taskId]) await rt.remove(id);
});

t.test('process: a new Runtime (a restarted agent) finds the running task under the same supervisor, same PID', async (t) => {
  const a = make();
  const s = spec(target, taskId('adopt'), { args: ['sh', '-c', 'while true; do sleep 0.05; done'] });
  await a.create(s);
  await a.start(s.taskId);
  const before = await a.inspect(s.taskId);
  const b = make();
  const after = await b.inspect(s.taskId);
  t.equal(after?.state, 'running');
  t.equal(after?.pid, before?.pid, 'same PID');
  t.equal(await supervisorPid(b), await supervisorPid(a), 'same supervisor');
  await b.stop(s.taskId, 1_000);
  t.equal((await within(a.wait(s.taskId), 10_000, 'the old Runtime hears the exit too')).exitCode, 143);
  await b.remove(s.taskId);
});

t.test('process: concurrent start() calls run the task once', async (t) => {
  const a = make();
  const b = make();
  // The task waits for a gate, so every start arrives while it runs (one that came after its exit would rightly be refused).
  const gateDir = mkdtempSync(path.join(tmpdir(), 'shoal-gate-'));
  scratch.push(gateDir);
  const gate = path.join(gateDir, 'open');
  const s = spec(target, taskId('race'), { args: ['sh', '-c', `echo ran; while [ ! -e ${gate} ]; do sleep 0.02; done`] });
  await a.create(s);
  await Promise.all([a.start(s.taskId), b.start(s.taskId), a.start(s.taskId)]);
  writeFileSync(gate, '');
  t.equal((await within(a.wait(s.taskId), 10_000, 'exit')).exitCode, 0);
  t.same((await collect(a, s.taskId)).map((l) => l.line), ['ran'], 'one shim, one run');
  await t.rejects(a.start(s.taskId), { code: 'FAILED', message: /already run/ }, 'a task starts once');
  await a.remove(s.taskId);
});

t.test("process: a supervisor whose directory is deleted ends with its tasks (nothing could reach them)", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-rt-wipe-'));
  scratch.push(dir);
  const rt = createRuntime('process', { dataDir: dir });
  const s = spec(target, taskId('wipe'), { args: ['sh', '-c', 'echo ready; while true; do sleep 0.05; done'] });
  await rt.create(s);
  await rt.start(s.taskId);
  const pid = (await rt.inspect(s.taskId))!.pid!;
  const sup = await supervisorPid(rt);
  rmSync(dir, { recursive: true, force: true });
  await waitFor(() => gone(pid) && gone(sup), { timeoutMs: 15_000, what: 'the orphaned task and its supervisor to end' });
  t.pass('ended');
});
