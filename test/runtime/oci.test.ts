/**
 * The oci runtime, for real, with runc and (when it can run here) crun: the
 * shared suite (suite.ts) on each, plus what comes from images and bundles —
 * a missing image, the image config (Entrypoint/Cmd/Env/WorkingDir from an
 * OCI layout), mounts, user, hostname, writes kept out of the image, and the
 * rootfs unmounted on remove, and every root unmounted by release() when the
 * node stops, even after its supervisor died. Skipped with plan(0) when runc is missing or
 * the node is not root.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createRuntime, ImageStore, type Runtime, type RuntimeOptions } from '../../src/worker/runtime/index.js';
import { OciRuntime } from '../../src/worker/runtime/oci/oci-runtime.js';
import { resolveCommon } from '../../src/worker/runtime/options.js';
import { tasksRoot } from '../../src/worker/runtime/common/task-dir.js';
import { procRef } from '../../src/worker/runtime/common/proc.js';
import { SupervisorClient } from '../../src/worker/supervisor/client.js';
import { supervisorFile } from '../../src/worker/supervisor/paths.js';
import { processesUnder } from '../../src/cli/local/processes.js';
import { recordingLogger } from '../helpers/logs.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { waitFor, within } from '../helpers/wait.js';
import { buildOciLayout } from './oci-layout.js';
import { collect, exitRecorded, runToExit, runtimeSuite, spec, taskId, type SuiteTarget } from './suite.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'shoal-rt-oci-'));
const opts: RuntimeOptions = { dataDir };
const probe = new OciRuntime(opts);
const runc = await probe.availableFor('runc');
const crun = await probe.availableFor('crun');

const mounted = (p: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);

if (!runc.ok) {
  t.plan(0, `oci runtime unavailable: ${runc.reason}`);
} else if (!busyboxBinary()) {
  t.plan(0, 'busybox-static is not installed: no test image');
} else {
  const bb = busyboxRootfs();
  const store = new ImageStore(path.join(dataDir, 'images'));
  await store.import('busybox:latest', bb.tarball);
  const make = (): Runtime => createRuntime('oci', opts);

  t.teardown(async () => {
    const rt = make();
    for (const i of await rt.list()) await rt.remove(i.taskId).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const base = { runtime: 'oci' as const, opts, image: 'busybox', enforcesLimits: true, make, exitedOutsideRuntime: (id: string) => exitRecorded(path.join(dataDir, 'runtime', 'oci'), id) };
  runtimeSuite(t, { ...base, label: 'oci/runc' } satisfies SuiteTarget);
  if (crun.ok) runtimeSuite(t, { ...base, label: 'oci/crun', specExtra: { options: { ociRuntime: 'crun' } } });
  else t.test('oci/crun', { skip: `crun unavailable: ${crun.reason}` }, () => {});

  const target: SuiteTarget = { ...base, label: 'oci' };

  t.test('oci: a missing image fails prepare with IMAGE_NOT_FOUND and how to import it', async (t) => {
    const rt = make();
    await t.rejects(rt.prepare(spec(target, taskId('noimg'), { image: 'nothere:1', args: ['true'] })), { code: 'IMAGE_NOT_FOUND', message: /shoal image import nothere:1 FILE/ });
    await t.rejects(rt.create(spec(target, taskId('noimg'), { image: 'nothere:1', args: ['true'] })), { code: 'IMAGE_NOT_FOUND' });
  });

  t.test('oci: the image config (OCI layout): entrypoint, cmd, env, working dir; Args replace Cmd', async (t) => {
    const layout = buildOciLayout(path.join(dataDir, 'layout-build'), bb.tarball);
    await store.import('app:1', layout.dir);
    const rt = make();
    const a = spec(target, taskId('img'), { image: 'app:1' });
    t.equal((await runToExit(rt, a)).exitCode, 0);
    t.same((await collect(rt, a.taskId)).map((l) => l.line), ['hi from /srv', 'hello from layer 2']);
    const b = spec(target, taskId('args'), { image: 'app:1', args: ['echo "$GREETING/$EXTRA"; ls /bin/vi 2>&1 || true'], env: ['EXTRA=x', 'GREETING=hello'] });
    t.equal((await runToExit(rt, b)).exitCode, 0);
    const out = (await collect(rt, b.taskId)).map((l) => l.line);
    t.equal(out[0], 'hello/x', 'task env overrides image env; Args replaced Cmd, Entrypoint kept');
    t.match(out[1], /No such file/, 'the whiteout holds in the container');
    // The image's HEALTHCHECK, as the agent reads it, run the way the agent runs it: exec'd inside the container.
    const hc = await rt.imageHealthCheck!(a);
    t.same(hc, { Test: ['CMD', 'test', '-e', '/srv/hello.txt'], Interval: 1e9 }, "the image's HEALTHCHECK");
    const c = spec(target, taskId('hc'), { image: 'app:1', args: ['sleep 30'] });
    await rt.create(c);
    await rt.start(c.taskId);
    t.equal((await rt.exec(c.taskId, hc!.Test!.slice(1), 5_000)).exitCode, 0, 'passes inside the container (/srv/hello.txt is in the image, not on the host)');
    t.not((await rt.exec(c.taskId, ['test', '-e', '/srv/nope'], 5_000)).exitCode, 0, 'and a failing check fails');
    await rt.stop(c.taskId, 1_000);
    await rt.remove(c.taskId);
    await rt.remove(a.taskId);
    await rt.remove(b.taskId);
  });

  t.test('oci: mounts, user, hostname', async (t) => {
    const host = path.join(dataDir, 'hostdir');
    mkdirSync(host, { recursive: true });
    writeFileSync(path.join(host, 'in.txt'), 'from the host\n');
    const rt = make();
    const s = spec(target, taskId('mnt'), {
      ...{ command: ['sh', '-c', 'cat /data/in.txt; touch /data/x 2>/dev/null && echo rw || echo ro; echo t > /scratch/f && grep -c /scratch /proc/mounts; echo v > /vol/v && echo vol-ok; id -u; hostname'] },
      mounts: [
        { type: 'bind', source: host, target: '/data', readOnly: true },
        { type: 'tmpfs', target: '/scratch', sizeBytes: 1 << 20 },
        { type: 'volume', source: 'shoalvol', target: '/vol' },
      ],
      user: 'nobody',
      hostname: 'web-1',
    });
    // nobody cannot write to the tmpfs or volume roots as created; run those parts as root in a second task.
    const root = spec(target, taskId('mntr'), { ...s, taskId: taskId('mntr'), user: undefined, command: ['sh', '-c', 'echo t > /scratch/f && grep -c " /scratch tmpfs" /proc/mounts; echo v > /vol/v && echo vol-ok'] });
    t.equal((await runToExit(rt, s)).exitCode, 0);
    const out = (await collect(rt, s.taskId)).filter((l) => l.stream === 'stdout').map((l) => l.line);
    t.equal(out[0], 'from the host', 'bind mount');
    t.equal(out[1], 'ro', 'read-only bind');
    t.ok(out.includes('65534'), `runs as nobody (${out.join('|')})`);
    t.equal(out[out.length - 1], 'web-1', 'hostname');
    t.equal((await runToExit(rt, root)).exitCode, 0);
    t.same((await collect(rt, root.taskId)).map((l) => l.line), ['1', 'vol-ok'], 'tmpfs and volume');
    t.equal(readFileSync(path.join(dataDir, 'volumes', 'shoalvol', '_data', 'v'), 'utf8'), 'v\n', 'the volume lives on the node');
    await rt.remove(s.taskId);
    await rt.remove(root.taskId);
  });

  t.test('oci: writes stay in the task; remove unmounts its rootfs', async (t) => {
    const rt = make();
    const w = spec(target, taskId('wr'), { command: ['sh', '-c', 'echo data > /bin/new-file; rm /bin/vi; echo ready; while true; do sleep 0.05; done'] });
    await rt.prepare(w);
    await rt.create(w);
    await rt.start(w.taskId);
    await waitFor(async () => (await collect(rt, w.taskId)).some((l) => l.line === 'ready'), { what: 'ready' });
    const rootfs = path.join(dataDir, 'runtime', 'oci', 'tasks', w.taskId, 'bundle', 'rootfs');
    t.ok(mounted(rootfs), 'the rootfs is an overlay mount');
    const image = store.resolve('busybox')!.rootfs;
    t.notOk(existsSync(path.join(image, 'bin', 'new-file')), 'the image did not change');
    t.ok(existsSync(path.join(image, 'bin', 'vi')), 'a delete did not reach the image');
    const r = spec(target, taskId('rd'), { command: ['sh', '-c', 'ls /bin/new-file 2>/dev/null || echo absent'] });
    t.equal((await runToExit(rt, r)).exitCode, 0);
    t.same((await collect(rt, r.taskId)).map((l) => l.line), ['absent'], 'another task sees the image as it was');
    const st = await rt.stats(w.taskId);
    t.ok((st.memoryBytes ?? 0) > 0 && (st.pids ?? 0) >= 1, `stats from the container cgroup ${JSON.stringify(st)}`);
    const ex = await rt.exec!(w.taskId, ['cat', '/bin/new-file'], 5_000);
    t.same(ex, { exitCode: 0, output: 'data\n' }, 'exec runs inside the container');
    await within(rt.stop(w.taskId, 100), 10_000, 'stop');
    await rt.remove(w.taskId);
    await rt.remove(r.taskId);
    t.notOk(mounted(rootfs), 'unmounted');
    t.notOk(existsSync(path.dirname(path.dirname(rootfs))), 'task dir gone');
  });

  t.test('oci: a node stopping with its tasks: release() unmounts every root without asking the supervisor, which may be gone', async (t) => {
    // A data dir of its own: this test ends its supervisor, not the one the other tests use.
    const own = mkdtempSync(path.join(tmpdir(), 'shoal-rt-oci-release-'));
    await new ImageStore(path.join(own, 'images')).import('busybox:latest', bb.tarball);
    // The node's way: one supervisor client, handed to the runtime, which the node shuts down before it releases.
    const common = resolveCommon('oci', { dataDir: own });
    const logs = recordingLogger();
    const sup = new SupervisorClient({ dir: path.join(own, 'supervisor'), roots: [tasksRoot(common.stateDir)], rotation: common.rotation, keepAlive: false, log: logs.log });
    const rt = new OciRuntime({ dataDir: own, supervisor: sup });
    const supervisors = () => processesUnder(path.join(own, 'supervisor'));
    t.teardown(async () => {
      for (const pid of supervisors()) process.kill(pid, 'SIGKILL');
      for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
        const m = l.split(' ')[4] ?? '';
        if (m.startsWith(own + '/')) execFileSync('umount', ['-l', m]);
      }
      await sup.close();
      rmSync(own, { recursive: true, force: true });
    });
    const ids = [taskId('rel1'), taskId('rel2'), taskId('rel3')];
    for (const id of ids) {
      const s = spec(target, id, { command: ['sleep', '600'] });
      await rt.prepare(s);
      await rt.create(s);
      await rt.start(id);
    }
    const roots = ids.map((id) => path.join(own, 'runtime', 'oci', 'tasks', id, 'bundle', 'rootfs'));
    t.ok(roots.every(mounted), 'three running tasks, each on its overlay root');
    // A client that never reached the supervisor (a node stopping during its start-up) holds nothing,
    // while the supervisor still runs the tasks: a release then must not take their roots away.
    const stranger = new SupervisorClient({ dir: path.join(own, 'supervisor'), roots: [tasksRoot(common.stateDir)], rotation: common.rotation, keepAlive: false });
    await within(new OciRuntime({ dataDir: own, supervisor: stranger }).release(), 30_000, 'release beside a live supervisor');
    await stranger.close();
    t.ok(roots.every(mounted), 'a release while the supervisor lives leaves its running tasks their roots');
    // The node stops (shutdown, then release), and its supervisor dies half-way through the shutdown
    // without recording its tasks' exits (as a fence ends it when every manager went away with the
    // node): stopped first, so that it cannot record them, then killed.
    const pid = (await sup.hello()).pid;
    process.kill(pid, 'SIGSTOP');
    const shutdown = sup.shutdown('the node is stopping');
    // Its connection is open, so the request goes out within this turn's microtasks.
    await new Promise((r) => setImmediate(r));
    // The kernel closes a dying process's socket before the process stops looking alive in /proc;
    // on a loaded machine the client saw the close inside that window, took the supervisor for
    // alive, and never reported its tasks lost (a CI flake). Widen the window to 1 s, every time:
    // a stand-in process takes the pid file over and lives on 1 s after the supervisor is gone.
    const standIn = spawn('sleep', ['1'], { stdio: 'ignore' });
    const ref = await waitFor(() => procRef(standIn.pid!), { what: 'the stand-in started' });
    writeFileSync(supervisorFile(path.join(own, 'supervisor'), 'pid'), `${ref.pid} ${ref.startTime}\n`);
    process.kill(pid, 'SIGKILL');
    await within(shutdown, 30_000, 'supervisor shutdown');
    // Once shutdown() returns: the node releases next, and spares what the client still holds.
    t.same(ids.filter((id) => sup.holds(id)), [], 'when the shutdown returns, the client has seen its tasks lost');
    // The window seen on a node stopping with 300 tasks: the losses are being recorded (exit.json
    // written asynchronously) while the node already releases. Here the whole window: none recorded.
    const exits = ids.map((id) => path.join(own, 'runtime', 'oci', 'tasks', id, 'exit.json'));
    await waitFor(() => exits.every((f) => existsSync(f)), { timeoutMs: 10_000, what: 'the losses recorded' });
    for (const f of exits) rmSync(f);
    await within(rt.release(), 30_000, 'release');
    t.same(roots.filter(mounted), [], 'no root stays mounted');
    t.same(supervisors(), [], 'and no supervisor was started to ask (one would outlive the stopped node)');
    t.match(logs.messages().join('\n'), /3 task\(s\) ended with their supervisor/, 'the loss is logged');
    t.same(logs.messages().filter((m) => /UNAVAILABLE/.test(m)), [], 'and no attempt to reach the supervisor the node shut down');
    t.same(ids.filter((id) => !existsSync(path.join(own, 'runtime', 'oci', 'tasks', id, 'info.json'))), [], 'the task records stay for the next agent');
  });
}
