/**
 * The oci runtime, for real, with runc and (when it can run here) crun: the
 * shared suite (suite.ts) on each, plus what comes from images and bundles —
 * a missing image, the image config (Entrypoint/Cmd/Env/WorkingDir from an
 * OCI layout), mounts, user, hostname, writes kept out of the image, and the
 * rootfs unmounted on remove. Skipped with plan(0) when runc is missing or
 * the node is not root.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createRuntime, ImageStore, type Runtime, type RuntimeOptions } from '../../src/worker/runtime/index.js';
import { OciRuntime } from '../../src/worker/runtime/oci/oci-runtime.js';
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
}
