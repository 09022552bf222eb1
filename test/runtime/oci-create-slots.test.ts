/**
 * The task supervisor creates oci containers a few at a time (holder.ts,
 * ociCreatesAtOnce = 4), with real crun: 12 tasks started at once through
 * the oci runtime, with crun behind a wrapper that logs when each `run`
 * begins. A container's creation lasts from its `run` until the supervisor
 * recorded its PID (started.json): never more than 4 of those overlap, and
 * more than one does (the slots are used, not one at a time). Every task
 * runs, and is removed with its rootfs unmounted. Skipped without root, crun
 * or busybox-static.
 */
import t from 'tap';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRuntime, ImageStore, type RuntimeOptions } from '../../src/worker/runtime/index.js';
import { OciRuntime } from '../../src/worker/runtime/oci/oci-runtime.js';
import { isMounted } from '../../src/worker/runtime/oci/rootfs.js';
import { which } from '../../src/worker/runtime/oci/binaries.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { spec, taskId, type SuiteTarget } from './suite.js';

const N = 12;
const dataDir = mkdtempSync(path.join(tmpdir(), 'shoal-rt-slots-'));
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
const crun = which('crun');
const log = path.join(dataDir, 'runs.log');
const wrapper = path.join(dataDir, 'crun-logged');
writeFileSync(wrapper, `#!/bin/sh\ncase " $* " in *" run "*) echo "s $(date +%s%N)" >> ${log};; esac\nexec ${crun} "$@"\n`);
chmodSync(wrapper, 0o755);
const opts: RuntimeOptions = { dataDir, oci: { runtime: 'crun', crunPath: wrapper } };
const avail = crun ? await new OciRuntime(opts).availableFor('crun') : { ok: false, reason: 'crun is not installed' };

if (!avail.ok) t.plan(0, `crun unavailable: ${avail.reason}`);
else if (!busyboxBinary()) t.plan(0, 'busybox-static is not installed: no test image');
else {
  await new ImageStore(path.join(dataDir, 'images')).import('busybox:latest', busyboxRootfs().tarball);
  const rt = createRuntime('oci', opts);
  const target = { image: 'busybox', specExtra: { options: { ociRuntime: 'crun' } } } as unknown as SuiteTarget;
  const ids = Array.from({ length: N }, () => taskId('slot'));
  t.teardown(async () => {
    for (const id of ids) await rt.remove(id).catch(() => undefined);
  });

  t.test(`${N} containers started at once are created at most 4 at a time`, async (t) => {
    const specs = ids.map((id) => spec(target, id, { command: ['sleep', '600'] }));
    await Promise.all(specs.map((s) => rt.create(s)));
    await Promise.all(ids.map((id) => rt.start(id)));
    const infos = await Promise.all(ids.map((id) => rt.inspect(id)));
    t.ok(
      infos.every((i) => i?.state === 'running'),
      'every task runs',
    );

    const starts = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => Number(BigInt(l.split(' ')[1]!) / 1_000_000n));
    t.equal(starts.length, N, `crun run was called ${N} times`);
    const ends = ids.map((id) => Date.parse((JSON.parse(readFileSync(path.join(dataDir, 'runtime', 'oci', 'tasks', id, 'started.json'), 'utf8')) as { startedAt: string }).startedAt));
    // At the same ms, an end sorts before a start: the slot is released before the next run begins.
    const ev = [...starts.map((at) => ({ at, d: 1 })), ...ends.map((at) => ({ at, d: -1 }))].sort((a, b) => a.at - b.at || a.d - b.d);
    let cur = 0;
    let max = 0;
    for (const e of ev) max = Math.max(max, (cur += e.d));
    t.ok(max <= 4, `at most 4 containers in creation at once (${max})`);
    t.ok(max >= 2, `and more than one (${max})`);
  });

  t.test('each is removed, its rootfs unmounted', async (t) => {
    for (const id of ids) {
      await rt.stop(id, 1_000);
      await rt.remove(id);
    }
    for (const id of ids) t.notOk(isMounted(path.join(dataDir, 'runtime', 'oci', 'tasks', id, 'bundle', 'rootfs')), `${id}: no rootfs left mounted`);
    t.same(await rt.list(), [], 'no task is left');
  });
}
