/**
 * The docker runtime against a private dockerd (test/helpers/dockerd.ts),
 * with busybox imported through the API: the shared suite (suite.ts), plus a
 * missing image (IMAGE_NOT_FOUND, never a pull), the task label, limits in
 * HostConfig, stats and exec. Skipped with plan(0) without dockerd or root.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { nativePausePath } from '../../src/worker/runtime/docker/pause.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../src/worker/runtime/index.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { dockerdAvailable, startDockerd } from '../helpers/dockerd.js';
import { waitFor, within } from '../helpers/wait.js';
import { collect, runtimeSuite, spec, taskId, type SuiteTarget } from './suite.js';

const execFileP = promisify(execFile);
const avail = dockerdAvailable();
if (!avail.ok) {
  t.plan(0, `docker runtime: ${avail.reason}`);
} else if (!busyboxBinary()) {
  t.plan(0, 'busybox-static is not installed: no test image');
} else {
  const d = await startDockerd({ name: 'runtime-test' });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'shoal-rt-docker-'));
  t.teardown(async () => {
    await d.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  await d.importImage(busyboxRootfs().tarball, 'busybox:latest', ['CMD ["sh"]']);
  const opts: RuntimeOptions = { dataDir, docker: { socketPath: d.socketPath } };
  const make = (): Runtime => createRuntime('docker', opts);

  /** Watches the engine directly, no Runtime involved. */
  async function exitedOutsideRuntime(id: string): Promise<void> {
    const filters = encodeURIComponent(JSON.stringify({ label: [`shoal.task.id=${id}`] }));
    await waitFor(
      async () => {
        const r = await d.api<{ State: string }[]>('GET', `/containers/json?all=1&filters=${filters}`);
        return r.body[0]?.State === 'exited';
      },
      { timeoutMs: 15_000, what: `container of ${id} to exit` },
    );
  }

  const target: SuiteTarget = { label: 'docker', runtime: 'docker', opts, image: 'busybox', enforcesLimits: true, make, exitedOutsideRuntime };
  runtimeSuite(t, target);

  t.test('docker: available; a missing image is IMAGE_NOT_FOUND with how to load it, never a pull', async (t) => {
    const rt = make();
    t.same(await rt.available(), { ok: true });
    await t.rejects(rt.prepare(spec(target, taskId('noimg'), { image: 'not-here:1', args: ['true'] })), { code: 'IMAGE_NOT_FOUND', message: /docker import/ });
    await t.rejects(rt.create(spec(target, taskId('noimg'), { image: 'not-here:1', args: ['true'] })), { code: 'IMAGE_NOT_FOUND' });
    const gone = createRuntime('docker', { dataDir, docker: { socketPath: path.join(dataDir, 'no.sock') } });
    const a = await gone.available();
    t.equal(a.ok, false);
    t.match(a.reason, /cannot reach the Docker engine/);
  });

  t.test('docker: label, limits in HostConfig, stats, exec; the image default command', async (t) => {
    const rt = make();
    const s = spec(target, taskId('lim'), { command: ['sh', '-c', 'echo ready; while true; do sleep 0.05; done'], limits: { memoryBytes: 64 << 20, nanoCpus: 500_000_000, pids: 40 } });
    await rt.prepare(s);
    const c = await rt.create(s);
    await rt.start(s.taskId);
    await waitFor(async () => (await collect(rt, s.taskId)).some((l) => l.line === 'ready'), { what: 'ready' });
    const inspected = await d.api<{ Config: { Labels: Record<string, string> }; HostConfig: { Memory: number; NanoCpus: number; PidsLimit: number } }>('GET', `/containers/${c.runtimeId}/json`);
    t.equal(inspected.body.Config.Labels['shoal.task.id'], s.taskId);
    t.equal(inspected.body.Config.Labels.suite, 'runtime', 'task labels kept');
    t.same([inspected.body.HostConfig.Memory, inspected.body.HostConfig.NanoCpus, inspected.body.HostConfig.PidsLimit], [64 << 20, 500_000_000, 40]);
    const st = await rt.stats(s.taskId);
    t.ok((st.memoryBytes ?? 0) > 0 && (st.pids ?? 0) >= 1, `stats ${JSON.stringify(st)}`);
    t.same(await rt.exec!(s.taskId, ['sh', '-c', 'echo from-exec; exit 4'], 5_000), { exitCode: 4, output: 'from-exec\n' });
    await within(rt.stop(s.taskId, 100), 10_000, 'stop');
    await rt.remove(s.taskId);
    t.equal(await rt.inspect(s.taskId), null);
    await rt.remove(s.taskId); // removing twice is fine

    const dflt = spec(target, taskId('dflt'), {});
    await rt.prepare(dflt);
    await rt.create(dflt);
    await rt.start(dflt.taskId);
    t.equal((await within(rt.wait(dflt.taskId), 10_000, 'exit')).exitCode, 0, 'CMD ["sh"] with no stdin exits 0');
    await rt.remove(dflt.taskId);
  });

  t.test('docker: a task with its own network runs in its sandbox\'s namespace; a failed network leaves no sandbox', { skip: nativePausePath() ? false : 'no shoal-pause (the build needs gcc and libc6-dev)' }, async (t) => {
    const rt = make();
    const sandboxes = async () => (await d.api<unknown[]>('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['shoal.sandbox.of'] }))}`)).body.length;
    const ns = `shoal-rtest-${process.pid}`;
    t.teardown(() => execFileP('ip', ['netns', 'delete', ns]).catch(() => {}));
    // The data plane's part, played by the test: once the runtime has bound the namespace, put an eth0 into it.
    const network = {
      netnsPath: `/run/netns/${ns}`,
      resolvConf: 'nameserver 192.0.2.53\n',
      hosts: '127.0.0.1\tlocalhost\n',
      bound: () => execFileP('ip', ['link', 'add', `shrt${process.pid % 100000}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]).then(() => undefined),
    };
    const id = taskId('net');
    await rt.create({ ...spec(target, id, { args: ['sleep', '300'] }), network });
    await rt.start(id);
    t.equal(await sandboxes(), 1, 'a sandbox holds the namespace');
    const links = await rt.exec(id, ['ip', '-o', 'link'], 10_000);
    t.match(links.output, /\beth0@/, 'the task sees the eth0 put into the bound namespace');
    t.match((await rt.exec(id, ['cat', '/etc/resolv.conf'], 10_000)).output, /nameserver 192\.0\.2\.53/, "and the node's resolv.conf");
    await rt.stop(id, 1_000);
    await rt.remove(id);
    t.equal(await sandboxes(), 0, 'removing the task removes its sandbox');
    t.notOk(existsSync(path.join(dataDir, 'runtime', 'docker', id)), 'and its resolv.conf and hosts');
    await execFileP('ip', ['netns', 'delete', ns]);

    // The data plane never programs it: create fails, and leaves neither sandbox nor binding.
    const id2 = taskId('netfail');
    await t.rejects(rt.create({ ...spec(target, id2, { args: ['sleep', '300'] }), network: { ...network, bound: () => Promise.reject(new Error('no plan applied')) } }), /no plan applied/);
    t.equal(await sandboxes(), 0, 'no sandbox left after a failed create');
    t.notOk(existsSync(`/run/netns/${ns}`), 'and no namespace binding');
  });
}
