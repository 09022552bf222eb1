/**
 * `shoal image import` on one node serves the whole cluster (1 manager + 2
 * workers, real processes, oci runtime): busybox is imported on the manager
 * only, and a service of 3 replicas spread over the 3 nodes runs, the
 * workers having built the image from the manager's layer blobs (same image
 * ID). Each node reports the images it holds in its description (what the
 * scheduler prefers). An image no node has fails its task saying so. Skipped without root
 * and runc, or busybox-static.
 */
import path from 'node:path';
import t from 'tap';
import { ImageStore } from '../../src/worker/runtime/images/store.js';
import { createRuntime } from '../../src/worker/runtime/index.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { shoalProcess } from '../cli/helpers.js';

interface ApiTask {
  NodeID: string;
  DesiredState: string;
  Status: { State: string; Err?: string };
}

const oci = await createRuntime('oci', { dataDir: '/nonexistent' }).available();
const why = !oci.ok ? `oci runtime unavailable: ${oci.reason}` : !busyboxBinary() ? 'busybox-static is not installed' : null;

t.test('an image imported on one node runs on every node', { skip: why ?? false }, async (t) => {
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  const w2 = await c.join('worker', m1);
  const w3 = await c.join('worker', m1);
  const r = await shoalProcess(['image', 'import', '--data-dir', m1.dataDir, 'busybox:latest', busyboxRootfs().tarball]);
  t.equal(r.code, 0, r.err);
  const id = new ImageStore(path.join(m1.dataDir, 'images')).resolve('busybox:latest')!.id;
  for (const w of [w2, w3]) t.equal(new ImageStore(path.join(w.dataDir, 'images')).resolve('busybox:latest'), null, `${w.name} does not have it`);

  // Each node reports what its store holds (within its 5 s look): the manager has busybox, the workers nothing.
  const imagesOf = async () => new Map((await c.http(m1, 'GET', '/nodes')).json<{ ID: string; Description: { Hostname: string; Images?: string[] } }[]>().map((n) => [n.Description.Hostname, n.Description.Images ?? []]));
  await waitFor(async () => ((await imagesOf()).get('n1') ?? []).includes('busybox:latest'), { timeoutMs: 20_000, what: 'n1 to report busybox:latest in its description' });
  t.same((await imagesOf()).get('n2'), [], 'n2 reports no image');

  const create = async (name: string, image: string, replicas: number) => {
    const res = await c.http(m1, 'POST', '/services/create', {
      Name: name,
      TaskTemplate: { Runtime: 'oci', ContainerSpec: { Image: image, Command: ['sleep', '600'] }, Placement: { Preferences: [{ Spread: { SpreadDescriptor: 'node.id' } }] } },
      Mode: { Replicated: { Replicas: replicas } },
    });
    t.equal(res.status, 201, res.body);
  };
  const tasksOf = async (svc: string) => (await c.http(m1, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [svc] }))}`)).json<ApiTask[]>();
  await create('shared', 'busybox:latest', 3);
  const ran = await waitFor(
    async () => {
      const ts = (await tasksOf('shared')).filter((x) => x.DesiredState === 'running');
      return ts.length === 3 && ts.every((x) => x.Status.State === 'running') ? ts : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250, what: '3 tasks running' },
  );
  t.equal(new Set(ran.map((x) => x.NodeID)).size, 3, 'one on each node');
  for (const w of [w2, w3]) {
    const img = new ImageStore(path.join(w.dataDir, 'images')).resolve('busybox:latest');
    t.equal(img?.id, id, `${w.name} built the same image (${id.slice(0, 19)})`);
    t.equal(img?.source, 'peer', 'from a peer');
  }

  await waitFor(async () => [...(await imagesOf()).values()].every((names) => names.includes('busybox:latest')), { timeoutMs: 20_000, what: 'every node to report busybox:latest once it has it' });
  t.pass('every node now reports the image it fetched');

  await create('nowhere', 'nosuch:1', 1);
  const failed = await waitFor(async () => (await tasksOf('nowhere')).find((x) => x.Status.Err), { timeoutMs: 60_000, what: 'the task of an image no node has to fail' });
  t.match(failed.Status.Err ?? "", /image nosuch:1 is not in this node.s image store .* nor on any other live node of the cluster/, failed.Status.Err ?? "");
});
