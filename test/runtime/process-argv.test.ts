/**
 * What a process task runs and how a program that cannot run is reported:
 * taskArgv's Docker rules with the image as the program, the execvp-style
 * lookup (executable.ts: a missing program, a directory, a file without an
 * x bit for the task's user, a relative path, PATH search), and then the
 * real thing through ProcessRuntime — `sleep 300` from Image "sleep" and
 * Args ["300"], and Image "300" rejected at create with Docker's words.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createRuntime, RuntimeError, type RuntimeOptions, type TaskRunSpec } from '../../src/worker/runtime/index.js';
import { resolveExecutable, whyNotExecutable } from '../../src/worker/runtime/process/executable.js';
import { programOfImage, taskArgv } from '../../src/worker/runtime/process/launch.js';
import { DEFAULT_PATH } from '../../src/worker/runtime/options.js';
import { waitFor, within } from '../helpers/wait.js';
import { collect, taskId } from './suite.js';

const base = (over: Partial<TaskRunSpec>): TaskRunSpec => ({ taskId: 'argv1', name: 't.argv1', image: '', env: [], mounts: [], limits: {}, labels: {}, ...over });

t.test('taskArgv: Command overrides the image; else the image is the program; no image: Args alone', async (t) => {
  t.same(taskArgv(base({ image: 'sleep', args: ['300'] })), ['sleep', '300'], 'the issue: Image "sleep", Args ["300"] runs sleep 300');
  t.same(taskArgv(base({ image: 'sleep' })), ['sleep'], 'the image alone');
  t.same(taskArgv(base({ image: 'busybox', command: ['sleep'], args: ['5'] })), ['sleep', '5'], 'Command replaces the image, Args follow');
  t.same(taskArgv(base({ image: '', command: ['sh', '-c', 'exit 0'] })), ['sh', '-c', 'exit 0']);
  t.same(taskArgv(base({ image: '', args: ['echo', 'hi'] })), ['echo', 'hi'], 'an empty image (API: process runtime only) leaves Args as the command');
  t.same(taskArgv(base({ image: '/usr/bin/env', args: ['true'] })), ['/usr/bin/env', 'true'], 'a path is a program too');
  t.throws(() => taskArgv(base({})), { code: 'INVALID_SPEC', message: /nothing to run/ });
});

t.test("programOfImage: drops only what the docker CLI adds (':latest', a digest)", async (t) => {
  t.equal(programOfImage('sleep:latest'), 'sleep', 'docker service create sleep 300 sends sleep:latest');
  t.equal(programOfImage(`sleep@sha256:${'a'.repeat(64)}`), 'sleep');
  t.equal(programOfImage(`sleep:latest@sha256:${'0'.repeat(64)}`), 'sleep');
  t.equal(programOfImage('node:20'), 'node:20', 'another tag stays (and will not be found), rather than run some other version');
  t.equal(programOfImage('./bin/app'), './bin/app');
  t.same(taskArgv(base({ image: 'sleep:latest', args: ['1'] })), ['sleep', '1']);
});

t.test('resolveExecutable: execvp rules, every failure "executable file not found: <name>" with the reason', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'shoal-exe-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const bin = path.join(root, 'bin');
  const other = path.join(root, 'other');
  const work = path.join(root, 'work');
  for (const d of [bin, other, work, path.join(work, 'sub'), path.join(bin, 'adir')]) mkdirSync(d, { recursive: true });
  const file = (p: string, mode: number) => {
    writeFileSync(p, '#!/bin/sh\nexit 0\n');
    chmodSync(p, mode);
    return p;
  };
  file(path.join(bin, 'tool'), 0o755);
  file(path.join(bin, 'plain'), 0o644);
  file(path.join(other, 'plain'), 0o755);
  file(path.join(work, 'sub', 'here'), 0o755);
  file(path.join(work, 'noexec'), 0o600);
  const ctx = { cwd: work, pathVar: `${bin}:${other}` };

  // PATH search: the first candidate that can run wins; ones that cannot are skipped, as execvp does.
  t.equal(resolveExecutable('tool', ctx), path.join(bin, 'tool'));
  t.equal(resolveExecutable('plain', ctx), path.join(other, 'plain'), 'a non-executable earlier match is skipped');
  t.equal(resolveExecutable('sh', { cwd: work, pathVar: DEFAULT_PATH }).endsWith('/sh'), true, 'the default PATH finds sh');
  t.equal(resolveExecutable('here', { cwd: work, pathVar: 'sub' }), path.join(work, 'sub', 'here'), 'a relative PATH entry is relative to the working directory');
  file(path.join(work, 'cwdtool'), 0o755);
  t.equal(resolveExecutable('cwdtool', { cwd: work, pathVar: `${bin}:` }), path.join(work, 'cwdtool'), 'an empty PATH entry is the working directory (POSIX)');

  const notFound = (prog: string, c: Parameters<typeof resolveExecutable>[1], why: RegExp, what: string) => {
    try {
      resolveExecutable(prog, c);
      t.fail(`${what}: found`);
    } catch (err) {
      t.ok(err instanceof RuntimeError && err.code === 'INVALID_SPEC', `${what}: INVALID_SPEC`);
      t.match((err as Error).message, new RegExp(`^executable file not found: ${JSON.stringify(prog).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(`), `${what}: Docker's words first`);
      t.match((err as Error).message, why, what);
    }
  };
  // A missing program: the "300".
  notFound('300', ctx, new RegExp(`searched PATH=${bin}:${other}\\)$`), 'missing from PATH');
  notFound('300', { cwd: work, pathVar: DEFAULT_PATH }, /^executable file not found: "300" \(searched PATH=\/usr\/local\/sbin:/, 'missing from the default PATH');
  notFound('adir', ctx, new RegExp(`${bin}/adir: is a directory; searched PATH=`), 'only a directory of that name in PATH');
  notFound('noexec', { cwd: work, pathVar: work }, /noexec: is not executable by uid \d+ \(mode 0600\); searched PATH=/, 'only a file without an x bit in PATH');
  // Paths: no PATH search, relative to the working directory.
  t.equal(resolveExecutable('./sub/here', ctx), path.join(work, 'sub', 'here'), 'a relative path');
  t.equal(resolveExecutable('sub/here', ctx), path.join(work, 'sub', 'here'), 'a name with a / is a path, not searched');
  notFound('here', ctx, /searched PATH/, 'a file in the working directory is not found without ./ (as execvp)');
  notFound('./missing', ctx, new RegExp(`\\(${work}/missing: no such file\\)$`), 'a relative path that does not exist');
  notFound(path.join(work, 'sub'), ctx, /\(is a directory\)$/, 'an absolute path to a directory');
  notFound('./noexec', ctx, /noexec: is not executable by uid \d+ \(mode 0600\)\)$/, 'a relative path to a non-executable file');
  notFound(path.join(root, 'nodir', 'x'), ctx, /\(no such file\)$/, 'a path through a missing directory');
  notFound('', ctx, /empty/, 'an empty name');
});

t.test('whyNotExecutable for a task user: the kernel rule (owner, else group, else other; root needs any x)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-exe-user-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'prog');
  writeFileSync(f, '#!/bin/sh\n');
  // Root's own files would test the root rule instead: as root, give the file to an ordinary uid.
  if (process.getuid?.() === 0) chownSync(f, 4321, 4321);
  const st = () => statSync(f);
  const owner = { uid: st().uid, gid: st().gid };
  const stranger = { uid: owner.uid + 4242, gid: owner.gid + 4242 };
  const groupMate = { uid: owner.uid + 4242, gid: owner.gid };
  const mode = (m: number) => chmodSync(f, m);

  mode(0o700);
  t.equal(whyNotExecutable(f, owner), null, 'owner x');
  t.match(whyNotExecutable(f, stranger), /not executable by uid \d+ \(mode 0700\)/, 'no x for others');
  mode(0o070);
  t.match(whyNotExecutable(f, owner), /not executable/, 'the owner gets the owner bits only, even when the group may run it');
  t.equal(whyNotExecutable(f, groupMate), null, 'group x');
  mode(0o701);
  t.equal(whyNotExecutable(f, stranger), null, 'other x');
  t.match(whyNotExecutable(f, groupMate), /not executable/, 'a group member gets the group bits only');
  mode(0o001);
  t.equal(whyNotExecutable(f, { uid: 0, gid: 0 }), null, 'root runs a file with any x bit');
  mode(0o644);
  t.match(whyNotExecutable(f, { uid: 0, gid: 0 }), /not executable by uid 0/, 'but not one with none');
  t.match(whyNotExecutable(f), /not executable/, "the node's own user: access(2) says no x bit");
  mode(0o755);
  t.equal(whyNotExecutable(f), null);
  t.equal(whyNotExecutable(dir, owner), 'is a directory');
  t.equal(whyNotExecutable('/dev/null'), 'is not a regular file');
  t.equal(whyNotExecutable(path.join(dir, 'nope')), 'no such file');
});

t.test('ProcessRuntime, for real: Image "sleep" + Args ["300"] runs `sleep 300`; Image "300" is rejected at create', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'shoal-rt-argv-'));
  const opts: RuntimeOptions = { dataDir };
  const rt = createRuntime('process', opts);
  t.teardown(async () => {
    for (const i of await rt.list()) await rt.remove(i.taskId).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });
  const spec = (prefix: string, over: Partial<TaskRunSpec>): TaskRunSpec => ({ ...base(over), taskId: taskId(prefix), name: `t.${prefix}` });

  const sleep = spec('sleep', { image: 'sleep', args: ['300'] });
  await rt.create(sleep);
  await rt.start(sleep.taskId);
  const pid = (await rt.inspect(sleep.taskId))!.pid!;
  // The sh prelude execs the program in the same process: once it has, the command line is exactly the task's.
  const argv = await waitFor(
    () => {
      const a = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
      return a[0] === 'sleep' ? a : null;
    },
    { what: `pid ${pid} to exec sleep` },
  );
  t.same(argv, ['sleep', '300']);
  await within(rt.stop(sleep.taskId, 1_000), 10_000, 'stop sleep 300');

  const echo = spec('echo', { image: 'echo:latest', args: ['hello', 'world'] });
  await rt.create(echo);
  await rt.start(echo.taskId);
  t.equal((await within(rt.wait(echo.taskId), 10_000, 'echo to exit')).exitCode, 0, 'the docker CLI form (echo:latest) runs echo');
  t.same((await collect(rt, echo.taskId)).map((l) => l.line), ['hello world']);

  // What the issue saw: the old mapping ran Args ["300"] as the program, exit 127 forever. Now create says why.
  const bad = spec('bad', { image: '300' });
  await t.rejects(rt.create(bad), { name: 'RuntimeError', code: 'INVALID_SPEC', message: /^executable file not found: "300" \(searched PATH=\/usr\/local\/sbin:/ });
  t.equal(await rt.inspect(bad.taskId), null, 'no task');
  t.notOk(existsSync(path.join(dataDir, 'runtime', 'process', 'tasks', bad.taskId)), 'and no half-made task dir left behind');

  // The lookup uses the task's PATH and working directory, not the node's.
  const own = mkdtempSync(path.join(tmpdir(), 'shoal-rt-argv-bin-'));
  t.teardown(() => rmSync(own, { recursive: true, force: true }));
  writeFileSync(path.join(own, 'greet'), '#!/bin/sh\necho "greet $1 from $(pwd)"\n');
  chmodSync(path.join(own, 'greet'), 0o755);
  const viaPath = spec('path', { image: 'greet', args: ['A'], env: [`PATH=${own}:/usr/bin:/bin`], dir: '/tmp' });
  const viaDir = spec('rel', { image: './greet', args: ['B'], dir: own });
  for (const s of [viaPath, viaDir]) {
    await rt.create(s);
    await rt.start(s.taskId);
    t.equal((await within(rt.wait(s.taskId), 10_000, `${s.taskId} to exit`)).exitCode, 0);
  }
  t.same((await collect(rt, viaPath.taskId)).map((l) => l.line), ['greet A from /tmp'], "found in the task's PATH");
  t.same((await collect(rt, viaDir.taskId)).map((l) => l.line), [`greet B from ${own}`], 'a relative path, from the task dir');
  await t.rejects(rt.create(spec('nopath', { image: 'greet' })), { code: 'INVALID_SPEC', message: /^executable file not found: "greet"/ }, "not in the default PATH");
  chmodSync(path.join(own, 'greet'), 0o644);
  await t.rejects(rt.create(spec('noexec', { image: './greet', dir: own })), { code: 'INVALID_SPEC', message: /greet: is not executable by uid \d+ \(mode 0644\)/ });
  await t.rejects(rt.create(spec('isdir', { image: own })), { code: 'INVALID_SPEC', message: /is a directory/ });
});
