/**
 * The true exit status of an oci task, end to end on a real node: a
 * container killed by the kernel's OOM killer (a 32 MiB limit, a process
 * that keeps allocating) fails with exit code 137 and says it was the OOM
 * killer; a container that exits 3 reports 3. Through the whole chain the
 * node's task supervisor runs: runc in the foreground as its child, tini as
 * the container's PID 1, the task under it. Skipped without root, runc or
 * busybox-static.
 */
import { ImageStore } from '../../src/worker/runtime/images/store.js';
import { createRuntime } from '../../src/worker/runtime/index.js';
import path from 'node:path';
import t from 'tap';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

interface ApiTask {
  ID: string;
  DesiredState: string;
  Status: { State: string; Message: string; Err?: string; ContainerStatus?: { ExitCode?: number } };
}

const oci = await createRuntime('oci', { dataDir: '/nonexistent' }).available();

if (!oci.ok) t.plan(0, `oci runtime unavailable: ${oci.reason}`);
else if (!busyboxBinary()) t.plan(0, 'busybox-static is not installed: no test image');
else {
  t.test('oci tasks: OOM kill is exit 137 and says so; a plain exit code comes through', async (t) => {
    const c = new ProcCluster();
    t.teardown(() => c.close());
    const m1 = await c.init();
    await new ImageStore(path.join(m1.dataDir, 'images')).import('busybox:latest', busyboxRootfs().tarball);
    const create = async (name: string, command: string[], limits: object) => {
      const r = await c.http(m1, 'POST', '/services/create', {
        Name: name,
        TaskTemplate: { Runtime: 'oci', ContainerSpec: { Image: 'busybox:latest', Command: command }, Resources: { Limits: limits }, RestartPolicy: { Condition: 'none' } },
        Mode: { Replicated: { Replicas: 1 } },
      });
      t.equal(r.status, 201, r.body);
    };
    const ended = (name: string) =>
      waitFor(
        async () => {
          const ts = (await c.http(m1, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [name] }))}`)).json<ApiTask[]>();
          return ts.find((x) => ['failed', 'complete'].includes(x.Status.State));
        },
        { timeoutMs: 60_000, intervalMs: 200, what: `${name}'s task to end` },
      );
    await create('oom', ['tail', '/dev/zero'], { MemoryBytes: 32 * 1024 * 1024 });
    await create('three', ['sh', '-c', 'exit 3'], {});
    const oom = await ended('oom');
    t.equal(oom.Status.State, 'failed');
    t.equal(oom.Status.ContainerStatus?.ExitCode, 137, 'exit code 137');
    t.match(oom.Status.Err, /OOM killer/, `the error says OOM: ${oom.Status.Err}`);
    const three = await ended('three');
    t.equal(three.Status.ContainerStatus?.ExitCode, 3, 'exit code 3');
    t.match(three.Status.Err, /non-zero exit \(3\)/);
  });
}
