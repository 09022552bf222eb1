/**
 * The process runtime, for real: the shared suite (suite.ts) plus what only
 * host processes have — no image, Command/Args required, mounts reported as
 * not applied, cgroup files when root, a shim killed under a running task.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createRuntime, RuntimeError, type RuntimeOptions } from '../../src/worker/runtime/index.js';
import { waitFor, within } from '../helpers/wait.js';
import { collect, exitRecorded, runtimeSuite, spec, taskId, type SuiteTarget } from './suite.js';

const isRoot = process.getuid?.() === 0;
const dataDir = mkdtempSync(path.join(tmpdir(), 'shoal-rt-process-'));
const opts: RuntimeOptions = { dataDir };
const make = () => createRuntime('process', opts);
const stateDir = path.join(dataDir, 'runtime', 'process');

function shimPid(id: string): number {
  return (JSON.parse(readFileSync(path.join(stateDir, 'tasks', id, 'shim.json'), 'utf8')) as { pid: number }).pid;
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

const target: SuiteTarget = {
  label: 'process',
  runtime: 'process',
  opts,
  image: 'busybox',
  enforcesLimits: isRoot,
  make,
  exitedOutsideRuntime: (id) => exitRecorded(stateDir, id),
};

t.teardown(async () => {
  const rt = make();
  for (const i of await rt.list()) await rt.remove(i.taskId).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

runtimeSuite(t, target);

t.test('process: Command or Args are required; any image name is accepted', async (t) => {
  const rt = make();
  await t.rejects(rt.create(spec(target, taskId('empty'), {})), { code: 'INVALID_SPEC', message: /Command or Args/ });
  t.ok((await rt.create(spec(target, taskId('img'), { image: 'no-such-registry.example/nothing:1', args: ['true'] }))).taskId, 'image ignored');
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

t.test('process: a task whose shim was killed can still be stopped; its status is then "lost" (255)', async (t) => {
  const rt = make();
  const s = spec(target, taskId('orph'), { args: ['sh', '-c', 'trap "" PIPE; while true; do sleep 0.05; done'] });
  await rt.create(s);
  await rt.start(s.taskId);
  const shim = shimPid(s.taskId);
  process.kill(shim, 'SIGKILL');
  await waitFor(() => gone(shim), { what: 'the shim to die' });
  t.equal((await rt.inspect(s.taskId))?.state, 'running', 'the task itself still runs');
  await within(rt.stop(s.taskId, 200), 10_000, 'stop without a shim');
  const e = await rt.wait(s.taskId);
  t.equal(e.exitCode, 255);
  t.match(e.message, /shim\) died/);
  await rt.remove(s.taskId);
});

t.test('process: concurrent start() calls run the task once', async (t) => {
  const a = make();
  const b = make();
  const s = spec(target, taskId('race'), { args: ['sh', '-c', 'echo ran'] });
  await a.create(s);
  await Promise.all([a.start(s.taskId), b.start(s.taskId), a.start(s.taskId)]);
  t.equal((await within(a.wait(s.taskId), 10_000, 'exit')).exitCode, 0);
  t.same((await collect(a, s.taskId)).map((l) => l.line), ['ran'], 'one shim, one run');
  await t.rejects(a.start(s.taskId), { code: 'FAILED', message: /already run/ }, 'a task starts once');
  await a.remove(s.taskId);
});

t.test('process: a task whose state directory is deleted is ended by its shim (nothing could adopt it)', async (t) => {
  const rt = make();
  const s = spec(target, taskId('wipe'), { args: ['sh', '-c', 'echo ready; while true; do sleep 0.05; done'] });
  await rt.create(s);
  await rt.start(s.taskId);
  const pid = (await rt.inspect(s.taskId))!.pid!;
  const shim = shimPid(s.taskId);
  rmSync(path.join(stateDir, 'tasks', s.taskId), { recursive: true, force: true });
  await waitFor(() => gone(pid) && gone(shim), { timeoutMs: 10_000, what: 'the orphaned task and its shim to end' });
  t.pass('ended');
  t.equal(await rt.inspect(s.taskId), null);
});
