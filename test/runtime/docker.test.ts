/**
 * The docker runtime against a private dockerd (test/helpers/dockerd.ts),
 * with busybox imported through the API: the shared suite (suite.ts), plus a
 * missing image (IMAGE_NOT_FOUND, never a pull), the task label, limits in
 * HostConfig, stats and exec. Skipped with plan(0) without dockerd or root.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../src/worker/runtime/index.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { dockerdAvailable, startDockerd } from '../helpers/dockerd.js';
import { waitFor, within } from '../helpers/wait.js';
import { collect, runtimeSuite, spec, taskId, type SuiteTarget } from './suite.js';

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
}
