/**
 * Images from a registry on real nodes (1 manager + 2 workers, oci
 * runtime): a service naming `127.0.0.1:PORT/busybox:1` runs on nodes that
 * never imported it, and the registry serves each layer once for the whole
 * cluster (each blob's owner node reads it and the others fetch it from
 * there); a second service of the same image reads nothing again. With a
 * blob's owner dead, the nodes read the registry themselves. A private
 * registry is pulled from with the node's own `docker login`
 * (DOCKER_CONFIG), and a node without one rejects the task saying how to
 * log in. Skipped without root and runc, busybox-static, docker-registry or
 * skopeo.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { createRuntime } from '../../src/worker/runtime/index.js';
import { blobOwner } from '../../src/worker/agent/image-peers.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { ProcCluster } from '../helpers/procs.js';
import { buildLayout, push, registryUnavailable, startRegistry, tarOf } from '../helpers/registry.js';
import { waitFor } from '../helpers/wait.js';

interface ApiTask {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string; Err?: string };
}

const oci = await createRuntime('oci', { dataDir: '/nonexistent' }).available();
const why = !oci.ok ? `oci runtime unavailable: ${oci.reason}` : !busyboxBinary() ? 'busybox-static is not installed' : registryUnavailable();

t.test('services run images pulled from a registry, one pull per node', { skip: why ?? false }, async (t) => {
  const creds = { user: 'shoal', password: 'pull-me' };
  const [pub, priv] = [await startRegistry(t), await startRegistry(t, { htpasswd: creds })];
  const work = t.testdir();
  const layout = path.join(work, 'busybox');
  const built = buildLayout(layout, '1', [{ layers: [busyboxRootfs().tarball, tarOf(work, 'hello', { 'etc/hello': 'from the registry\n' })], config: { Cmd: ['sh'] } }]);
  await push(layout, '1', `${pub.addr}/busybox:1`);
  await push(layout, '1', `${priv.addr}/busybox:1`, creds);
  const login = path.join(work, 'docker');
  mkdirSync(login);
  writeFileSync(path.join(login, 'config.json'), JSON.stringify({ auths: { [priv.addr]: { auth: Buffer.from(`${creds.user}:${creds.password}`).toString('base64') } } }));

  const c = new ProcCluster();
  t.teardown(() => c.close());
  // The manager has no login for the private registry; the workers do.
  const m1 = await c.init({ env: { DOCKER_CONFIG: path.join(work, 'none') } });
  await c.join('worker', m1, { env: { DOCKER_CONFIG: login } });
  await c.join('worker', m1, { env: { DOCKER_CONFIG: login } });
  const tasksOf = async (svc: string) => (await c.http(m1, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [svc] }))}`)).json<ApiTask[]>();
  const create = async (name: string, image: string, replicas: number, constraints: string[] = []) => {
    const r = await c.http(m1, 'POST', '/services/create', {
      Name: name,
      TaskTemplate: { Runtime: 'oci', ContainerSpec: { Image: image, Command: ['sh', '-c', 'cat /etc/hello && exec sleep 600'] }, Placement: { Constraints: constraints } },
      Mode: { Replicated: { Replicas: replicas } },
    });
    t.equal(r.status, 201, r.body);
  };
  const allRunning = (svc: string, n: number) =>
    waitFor(
      async () => {
        const ts = (await tasksOf(svc)).filter((x) => x.DesiredState === 'running');
        return ts.length === n && ts.every((x) => x.Status.State === 'running') ? ts : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, what: `${svc}: ${n} tasks running` },
    );

  // ---- a public registry: 6 tasks over 3 nodes, none of which has the image
  await create('pub', `${pub.addr}/busybox:1`, 6);
  const ran = await allRunning('pub', 6);
  const nodes = new Set(ran.map((x) => x.NodeID));
  t.ok(nodes.size >= 2, `spread over ${nodes.size} nodes`);
  for (const l of built.layers[0]!) t.equal(pub.blobReads(l), 1, `layer ${l.slice(7, 19)}: read once from the registry for ${nodes.size} nodes`);
  const logs = await c.http(m1, 'GET', `/tasks/${ran[0]!.ID}/logs?stdout=true`);
  t.match(logs.body, /from the registry/, 'the task ran the pulled image (its second layer)');

  // ---- a second service of the same image: nothing is read again
  await create('pub2', `${pub.addr}/busybox:1`, 3);
  const ran2 = await allRunning('pub2', 3);
  t.equal(ran2.length, 3);
  for (const l of built.layers[0]!) t.equal(pub.blobReads(l), 1, 'no new blob reads');

  // ---- a private registry: the workers pull with their login; the manager cannot, and says why
  await create('priv', `${priv.addr}/busybox:1`, 2, ['node.role==worker']);
  await allRunning('priv', 2);
  t.pass('the workers pulled with their docker login');
  await create('denied', `${priv.addr}/busybox:1`, 1, ['node.role==manager']);
  const refused = await waitFor(async () => (await tasksOf('denied')).find((x) => x.Status.Err), { timeoutMs: 60_000, what: 'the manager’s task to fail' });
  t.match(refused.Status.Err, new RegExp(`registry ${priv.addr.replace(/\./g, '\\.')} needs credentials .*docker login ${priv.addr.replace(/\./g, '\\.')}`), `it says how to log in: ${refused.Status.Err}`);

  // ---- a blob's owner is dead: the others read the registry themselves (last: the owner stays down)
  const ids = (await c.http(m1, 'GET', '/nodes')).json<{ ID: string; Spec: { Role: string } }[]>();
  const workerIds = ids.filter((n) => n.Spec.Role === 'worker').map((n) => n.ID);
  // A layer whose owner is a worker (the content picks the digest, the digest the owner).
  let third: ReturnType<typeof buildLayout> | undefined;
  let layout3 = '';
  for (let k = 0; k < 64 && !third; k++) {
    layout3 = path.join(work, `three-${k}`);
    const b = buildLayout(layout3, '3', [{ layers: [busyboxRootfs().tarball, tarOf(work, `three-${k}`, { 'etc/hello': `third ${k}\n` })] }]);
    if (workerIds.includes(blobOwner(b.layers[0]![1]!, ids.map((n) => n.ID)))) third = b;
  }
  const layer = third!.layers[0]![1]!;
  const owner = blobOwner(layer, ids.map((n) => n.ID));
  await push(layout3, '3', `${pub.addr}/third:3`);
  const ownerProc = c.nodes.find((n) => n !== m1 && n.stdout.includes(owner))!;
  await c.kill(ownerProc);
  await create('third', `${pub.addr}/third:3`, 2, [`node.id!=${owner}`]);
  await allRunning('third', 2);
  t.ok(pub.blobReads(layer) >= 1 && pub.blobReads(layer) <= 2, `with its owner dead, the layer was read by the nodes themselves (${pub.blobReads(layer)} reads)`);
});
