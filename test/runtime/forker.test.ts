/**
 * The supervisor's task forker with real processes — the C one when the
 * build made it, else the Perl one (forker-perl.test.ts runs this file
 * again on the Perl one): what it promises
 * the holder — exit statuses, exec failures with their reason, exact
 * environment, cwd, credentials, priority, cgroup joins, both log pipes,
 * signals only to unreaped children, group clean-up, and that every task dies
 * with it.
 */
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { forkerAvailable, TaskForker, type ForkedTask, type ForkRequest } from '../../src/worker/supervisor/forker.js';
import { procStartTime } from '../../src/worker/runtime/common/proc.js';
import { waitFor } from '../helpers/wait.js';
import { alive } from '../helpers/proc-alive.js';

const bin = forkerAvailable();
if (!bin) {
  t.plan(0, `no ${process.env.SHOAL_TASK_FORKER ?? 'forker'} on this machine (SHOAL_TASK_FORKER=${process.env.SHOAL_TASK_FORKER ?? ''}): tasks are spawned by Node behind setpriv`);
  process.exit(0);
}
t.comment(`forker: ${bin.kind}`);
const PATH = '/usr/sbin:/usr/bin:/sbin:/bin';
const diags: string[] = [];
const forker = new TaskForker(bin, (m) => diags.push(m));
t.teardown(() => forker.close());

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  task: ForkedTask;
}

function run(req: Partial<ForkRequest> & { argv: string[] }, onSpawn?: (t: ForkedTask) => void): Promise<Ran> {
  const task = forker.spawn({ env: { PATH }, killGroupOnExit: true, ...req });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    task.once('error', reject);
    task.once('spawn', () => {
      task.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      task.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      onSpawn?.(task);
    });
    task.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal, out, err, task }));
  });
}


t.test('exit codes and both pipes, separately', async (t) => {
  const r = await run({ argv: ['/bin/sh', '-c', 'echo to-out; echo to-err >&2; exit 7'] });
  t.equal(r.code, 7);
  t.equal(r.signal, null);
  t.equal(r.out, 'to-out\n');
  t.equal(r.err, 'to-err\n');
});

t.test('the environment is exactly the given one, the cwd the given one, PATH searched', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'forker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await run({ argv: ['sh', '-c', 'env | sort; pwd'], cwd: dir, env: { PATH, A: 'x y', B: 'with=equals' } });
  t.equal(r.code, 0);
  const lines = r.out.trim().split('\n');
  t.same(lines.filter((l) => /^(A|B|PATH)=/.test(l)), ['A=x y', `B=with=equals`, `PATH=${PATH}`]);
  t.notOk(lines.some((l) => l.startsWith('SHOAL') || l.startsWith('NODE')), 'nothing of the supervisor leaks in');
  t.equal(lines.at(-1), dir);
});

t.test('arguments with any bytes arrive intact', async (t) => {
  const weird = ['a b', '', 'new\nline', 'ünïcode', '-x', "quote'\""];
  const r = await run({ argv: ['/bin/sh', '-c', 'for a in "$@"; do printf "[%s]" "$a"; done', 'sh', ...weird] });
  t.equal(r.out, weird.map((a) => `[${a}]`).join(''));
});

t.test('a program that cannot be executed: 127 and the reason, from the child itself', async (t) => {
  const r = await run({ argv: ['no-such-program-anywhere'] });
  t.equal(r.code, 127);
  t.equal(r.task.execError?.code, 'ENOENT');
  t.match(r.task.execError?.message, /exec no-such-program-anywhere: No such file or directory/);
  const dir = mkdtempSync(path.join(tmpdir(), 'forker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'not-exec'), 'data', { mode: 0o644 });
  const r2 = await run({ argv: [path.join(dir, 'not-exec')] });
  t.equal(r2.code, 126, 'not executable: 126');
  const r3 = await run({ argv: ['/bin/true'], cwd: path.join(dir, 'missing') });
  t.equal(r3.code, 126);
  t.match(r3.task.execError?.message, /chdir .*missing/);
});

t.test('a signal reaches the whole process group; the status says which', async (t) => {
  let child = 0;
  const r = await run({ argv: ['/bin/sh', '-c', 'sleep 300 & echo $!; wait'] }, (task) => {
    task.stdout!.once('data', (c: Buffer) => {
      child = Number(c.toString().trim());
      task.kill('SIGTERM', true);
    });
  });
  t.equal(r.code, null);
  t.equal(r.signal, 'SIGTERM');
  t.ok(child > 0);
  await waitFor(() => !alive(child), { timeoutMs: 5_000, what: 'the background child, in the group, to die' });
  t.notOk(r.task.kill('SIGKILL'), 'a reaped task is never signalled (its PID may be someone else’s now)');
});

t.test("a leader's exit takes its background leftovers with it", async (t) => {
  const r = await run({ argv: ['/bin/sh', '-c', 'sleep 300 >/dev/null 2>&1 & echo $!'] });
  t.equal(r.code, 0);
  const left = Number(r.out.trim());
  await waitFor(() => !alive(left), { timeoutMs: 5_000, what: 'the leftover sleep to be killed with its group' });
});

t.test('each task leads its own session, at the given priority', async (t) => {
  const r = await run({ argv: ['/bin/sh', '-c', 'cut -d" " -f6,19 /proc/$$/stat; echo $$'], nice: 7 });
  const [stat, pid] = r.out.trim().split('\n');
  const [session, nice] = stat!.split(' ').map(Number);
  t.equal(session, Number(pid), 'session leader');
  t.equal(nice, 7);
});

t.test('credentials drop when root (supplementary groups too)', { skip: process.getuid?.() !== 0 && 'needs root' }, async (t) => {
  const r = await run({ argv: ['/bin/sh', '-c', 'id -u; id -g; id -G; echo ok'], uid: 65534, gid: 65534 });
  t.same(r.out.trim().split('\n'), ['65534', '65534', '65534', 'ok']);
});

t.test('cgroup joins happen before exec; a join that fails is exit 125', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'forker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'cgroup.procs'); // a plain file stands in: the child writes its own PID
  const r = await run({ argv: ['/bin/sh', '-c', 'echo $$'], cgroupProcs: [file] });
  t.equal(readFileSync(file, 'utf8').trim(), r.out.trim(), 'the PID that ran wrote itself in first');
  const bad = await run({ argv: ['/bin/true'], cgroupProcs: [path.join(dir, 'no', 'such')] });
  t.equal(bad.code, 125);
  t.match(bad.task.execError?.message, /join /);
});

t.test('hundreds at once: every one starts, runs and is reaped', async (t) => {
  const n = 300;
  const all = await Promise.all(Array.from({ length: n }, (_, i) => run({ argv: ['/bin/sh', '-c', `exit ${i % 200}`] })));
  t.same(
    all.map((r) => r.code),
    Array.from({ length: n }, (_, i) => i % 200),
  );
});

t.test('the start time each child reports is its own /proc start time (its identity with the PID)', async (t) => {
  let seen: string | null = null;
  const r = await run({ argv: ['sleep', '300'] }, (task) => {
    seen = procStartTime(task.pid!);
    task.kill('SIGKILL', true);
  });
  t.ok(r.task.startTime && /^\d+$/.test(r.task.startTime));
  t.equal(r.task.startTime, seen);
});

t.test('every task dies with the forker, and is reported killed (also one whose credentials dropped)', async (t) => {
  const own = new TaskForker(bin, () => {});
  // A credentials change clears PR_SET_PDEATHSIG: the forker sets it after the drop.
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const tasks = Array.from({ length: 5 }, (_, i) => own.spawn({ argv: ['sleep', '300'], env: { PATH }, killGroupOnExit: true, ...(i % 2 ? asNobody : {}) }));
  await Promise.all(tasks.map((x) => new Promise((r) => x.once('spawn', r))));
  const pids = tasks.map((x) => x.pid!);
  const exits = tasks.map((x) => new Promise<NodeJS.Signals | null>((r) => x.once('exit', (_c, s) => r(s))));
  process.kill(own.pid!, 'SIGKILL');
  t.same(await Promise.all(exits), Array(5).fill('SIGKILL'));
  await waitFor(() => pids.every((p) => !alive(p)), { timeoutMs: 5_000, what: 'every task to die with its forker (PR_SET_PDEATHSIG)' });
  const again = own.spawn({ argv: ['/bin/true'], env: { PATH }, killGroupOnExit: true });
  const code = await new Promise((r) => again.once('exit', r));
  t.equal(code, 0, 'the next start runs a new forker');
  own.close();
});

t.test('a request it cannot read fails that task, not the forker', async (t) => {
  const bad = forker.spawn({ argv: [], env: { PATH }, killGroupOnExit: false });
  const err = await new Promise<Error>((r) => bad.once('error', r));
  t.match(err.message, /no argv/);
  const r = await run({ argv: ['/bin/true'] });
  t.equal(r.code, 0, 'the next one runs');
});

t.test("the C forker mounts and unmounts a task's overlay by system call, not by exec'ing util-linux", { skip: bin.kind !== 'c' ? 'the Perl forker execs mount(8)' : process.getuid?.() !== 0 ? 'needs root' : false }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'forker-mount-'));
  const [lower, upper, work, target, fake] = ['lower', 'upper', 'work', 'target', 'fakebin'].map((d) => path.join(dir, d)) as [string, string, string, string, string];
  for (const d of [lower, upper, work, target, fake]) mkdirSync(d);
  writeFileSync(path.join(lower, 'from-image'), 'image\n');
  // A mount(8) and umount(8) first on PATH that only leave a mark: whatever reaches them was exec'd.
  const marks = path.join(dir, 'execd');
  // Open to the unprivileged request below too.
  chmodSync(dir, 0o755);
  writeFileSync(marks, '');
  chmodSync(marks, 0o666);
  for (const b of ['mount', 'umount']) writeFileSync(path.join(fake, b), `#!/bin/sh\necho ${b} "$@" >> ${marks}\nexit 99\n`, { mode: 0o755 });
  const env = { PATH: `${fake}:${PATH}` };
  t.teardown(async () => {
    await run({ argv: ['/bin/umount', '-l', target], env });
    rmSync(dir, { recursive: true, force: true });
  });
  const devOf = (p: string) => statSync(p).dev;
  // mount(8) itself first (by its path, which the forker execs): where it cannot put an overlay here
  // (tmpdir on an overlay, say), there is nothing to compare with.
  const probe = await run({ argv: ['/bin/mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, target], env });
  if (probe.code !== 0) return t.plan(0, `mount(8) cannot mount an overlay in ${dir}: ${probe.err.trim()}`);
  t.equal((await run({ argv: ['/bin/umount', target], env })).code, 0);

  const m = await run({ argv: ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, target], env });
  t.equal(m.code, 0, m.err);
  t.not(devOf(target), devOf(dir), 'an overlay is mounted on the target');
  t.equal(readFileSync(path.join(target, 'from-image'), 'utf8'), 'image\n', "the lower layer's file is seen through it");
  writeFileSync(path.join(target, 'written'), 'x');
  t.ok(existsSync(path.join(upper, 'written')), 'writes land in the upper layer');
  const u = await run({ argv: ['umount', target], env });
  t.equal(u.code, 0, u.err);
  t.equal(devOf(target), devOf(dir), 'unmounted');
  const lazy = await run({ argv: ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, target], env });
  t.equal(lazy.code, 0);
  t.equal((await run({ argv: ['umount', '-l', target], env })).code, 0, 'umount -l');
  t.equal(devOf(target), devOf(dir), 'lazily unmounted');

  const missing = await run({ argv: ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, path.join(dir, 'nope')], env });
  t.equal(missing.code, 32, "a failed mount is mount(8)'s status 32");
  t.equal(missing.err, `mount: ${path.join(dir, 'nope')}: No such file or directory\n`, 'and says why on stderr');
  const notMounted = await run({ argv: ['umount', target], env });
  t.equal(notMounted.code, 32);
  t.equal(notMounted.err, `umount: ${target}: Invalid argument\n`);
  t.equal(readFileSync(marks, 'utf8'), '', "none of those exec'd a binary");

  // Any other argv is exec'd as given: another command, another option, or a task's own credentials.
  const other = await run({ argv: ['mount', '--version'], env });
  t.equal(other.code, 99);
  const withOption = await run({ argv: ['mount', '-t', 'overlay', 'overlay', '-o', `nodev,lowerdir=${lower},upperdir=${upper},workdir=${work}`, target], env });
  t.equal(withOption.code, 99);
  const asNobody = await run({ argv: ['umount', target], env, uid: 65534, gid: 65534 });
  t.equal(asNobody.code, 99);
  t.equal(readFileSync(marks, 'utf8'), `mount --version\nmount -t overlay overlay -o nodev,lowerdir=${lower},upperdir=${upper},workdir=${work} ${target}\numount ${target}\n`, 'each of those ran the binary');
});

t.test("a forker's last answer read after its exit: the child's real exit code, not a kill", async (t) => {
  // A stand-in forker that answers one start, then exits while a child of its own still holds its
  // stdout and writes the reap (X, exit code 42) 100 ms later: the order in which Node may see the
  // real forker's 'exit' and its last buffered lines, made certain. It used to report the task killed.
  const dir = mkdtempSync(path.join(tmpdir(), 'forker-late-x-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = path.join(dir, 'forker');
  writeFileSync(
    script,
    [
      '#!/bin/bash',
      'read -r s seq rest',
      'exec 3< <(:) 4< <(:)',
      'echo "P $seq 4242 3 4"',
      'echo "T $seq 1"',
      'read -r ack', // C seq: the supervisor has opened the task's pipes through /proc/$$/fd
      '( sleep 0.1; echo "X 4242 $((42 << 8))" ) &',
      'exit 0',
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  const diag: string[] = [];
  const stand = new TaskForker({ kind: 'c', path: script }, (m) => diag.push(m));
  const task = stand.spawn({ argv: ['/bin/true'], env: { PATH }, killGroupOnExit: false });
  const exit = await new Promise<[number | null, NodeJS.Signals | null]>((r) => task.once('exit', (c, s) => r([c, s])));
  t.same(exit, [42, null], 'exit code 42, as the forker reported it');
  t.match(diag.join('\n'), /forker \d+ exited \(0\)/, 'the forker exit is noticed');
  stand.close();
});
