/**
 * Overlay allocation in a real cluster (a manager and a worker started with
 * `shoal init` / `shoal join`, from dist/: `npm run build` first), driven by
 * the real docker CLI over the manager's unix socket: network create / ls /
 * inspect / rm, a service on the network publishing a port shows its VIPs
 * and ports, its tasks their addresses, and scaling up and down keeps every
 * live address unique. Skipped, saying so, without a docker CLI on PATH.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { onPath } from '../helpers/on-path.js';

const dockerPath = onPath('docker');
const home = mkdtempSync(path.join(tmpdir(), 'shoal-docker-net-'));
t.teardown(() => rmSync(home, { recursive: true, force: true }));

function docker(sock: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const env = { PATH: process.env.PATH ?? '', HOME: home, DOCKER_CONFIG: home, DOCKER_HOST: sock, DOCKER_CLI_HINTS: 'false', DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' };
  return new Promise((resolve) => {
    execFile(dockerPath!, args, { env, timeout: 30_000 }, (err, out, errOut) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, out: String(out), err: String(errOut) });
    });
  });
}

interface TaskJson {
  ID: string;
  NodeID: string;
  Status: { State: string };
  DesiredState: string;
  NetworksAttachments?: { Network: { ID: string }; Addresses: string[] }[];
}

t.test('docker network and service commands allocate overlay addresses in a real cluster', async (t) => {
  if (!dockerPath) {
    t.plan(0, 'no docker CLI on PATH: skipping');
    return;
  }
  const c = new ProcCluster(83);
  t.teardown(() => c.close());
  const m1 = await c.init();
  await c.join('worker', m1);
  const sock = `unix://${m1.dataDir}/api.sock`;
  const d = (...a: string[]) => docker(sock, ...a);
  await waitFor(async () => (await d('node', 'ls')).out.split('\n').filter((l) => /Ready/.test(l)).length === 2, { timeoutMs: 20_000, what: 'two Ready nodes' });

  let r = await d('network', 'create', '-d', 'overlay', 'x');
  t.equal(r.code, 0, r.err);
  const netId = r.out.trim();
  r = await d('network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}');
  t.same(r.out.trim().split('\n').sort(), ['ingress overlay swarm', 'x overlay swarm']);
  r = await d('network', 'inspect', '--format', '{{.Id}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{index .Options "com.docker.network.driver.overlay.vxlanid_list"}}', 'x');
  t.equal(r.out.trim(), `${netId} 10.0.1.0/24 10.0.1.1 4097`);
  // The docker CLI's own body for --subnet/--gateway/--label/--internal/--attachable.
  r = await d('network', 'create', '-d', 'overlay', '--subnet', '10.50.0.0/24', '--gateway', '10.50.0.254', '--label', 'a=b', '--internal', '--attachable', 'z');
  t.equal(r.code, 0, r.err);
  r = await d('network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels.a}} {{.Internal}} {{.Attachable}}', 'z');
  t.equal(r.out.trim(), '10.50.0.0/24 10.50.0.254 b true true');
  r = await d('network', 'create', '-d', 'overlay', '--subnet', '10.50.0.128/25', 'clash');
  t.not(r.code, 0);
  t.match(r.err, /IPAM\.Config\[0\]\.Subnet: .*overlaps network z/);
  t.equal((await d('network', 'rm', 'z')).code, 0);
  r = await d('network', 'create', '-d', 'bridge', 'y');
  t.not(r.code, 0);
  t.match(r.err, /Driver: only the "overlay" driver/);

  r = await d('service', 'create', '-d', '--no-resolve-image', '--name', 'web', '--network', 'x', '-p', '8080:80', '--replicas', '2', 'busybox', 'sleep', '600');
  t.equal(r.code, 0, r.err);
  r = await d('service', 'inspect', '--format', '{{json .Endpoint}}', 'web');
  const ep = JSON.parse(r.out);
  const ingressId = JSON.parse((await d('network', 'inspect', '--format', '{{json .Id}}', 'ingress')).out);
  t.same(ep.VirtualIPs, [
    { NetworkID: netId, Addr: '10.0.1.2/24' },
    { NetworkID: ingressId, Addr: '10.0.0.2/24' },
  ]);
  t.same(ep.Ports, [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }]);
  r = await d('network', 'rm', 'x');
  t.not(r.code, 0, 'in use');
  t.match(r.err, /in use by service web/);

  /** Every task of web through the API's shape (docker inspect of each task). */
  const tasks = async (): Promise<TaskJson[]> => {
    const ids = (await d('service', 'ps', '-q', '--no-trunc', 'web')).out.split('\n').filter(Boolean);
    if (ids.length === 0) return [];
    return JSON.parse((await d('inspect', '--type', 'task', ...ids)).out) as TaskJson[];
  };
  const live = (l: TaskJson[]) => l.filter((x) => !['complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned'].includes(x.Status.State));
  /** No address on one network twice among live tasks, the VIPs and the nodes. */
  const uniqueAddrs = async (l: TaskJson[]) => {
    const held: string[] = [];
    for (const tk of live(l)) for (const a of tk.NetworksAttachments ?? []) held.push(`${a.Network.ID}/${a.Addresses[0]!.split('/')[0]}`);
    for (const v of ep.VirtualIPs) held.push(`${v.NetworkID}/${v.Addr.split('/')[0]}`);
    // The node addresses are Shoal's own field: docker's typed `node inspect` drops it, so ask the API itself.
    const nodes = (await c.http(m1, 'GET', '/v1.47/nodes')).json<{ ShoalAttachments?: { NetworkID: string; Addr: string }[] }[]>();
    for (const n of nodes) for (const a of n.ShoalAttachments ?? []) held.push(`${a.NetworkID}/${a.Addr}`);
    return { held, unique: new Set(held).size === held.length };
  };

  let l = await waitFor(async () => {
    const x = await tasks();
    return x.filter((tk) => tk.Status.State === 'running').length === 2 ? x : null;
  }, { timeoutMs: 30_000, what: 'two running web tasks' });
  for (const tk of l) {
    t.same(tk.NetworksAttachments!.map((a) => a.Network.ID).sort(), [netId, ingressId].sort(), `task ${tk.ID} is on x and ingress`);
    t.ok(tk.NetworksAttachments!.every((a) => /^10\.0\.[01]\.\d+\/24$/.test(a.Addresses[0]!)));
  }
  let u = await uniqueAddrs(l);
  t.ok(u.unique, `unique: ${u.held.join(' ')}`);

  r = await d('service', 'scale', '-d', 'web=5');
  t.equal(r.code, 0, r.err);
  l = await waitFor(async () => {
    const x = await tasks();
    return x.filter((tk) => tk.Status.State === 'running').length === 5 ? x : null;
  }, { timeoutMs: 30_000, what: 'five running web tasks' });
  u = await uniqueAddrs(l);
  t.ok(u.unique, `after scaling up: ${u.held.length} addresses, all unique`);
  t.equal(u.held.length, 5 * 2 + 2 + 2 * 2, '5 tasks × 2 networks, 2 VIPs, 2 nodes × (ingress + x)');

  r = await d('service', 'scale', '-d', 'web=1');
  t.equal(r.code, 0, r.err);
  l = await waitFor(async () => {
    const x = await tasks();
    return live(x).length === 1 ? x : null;
  }, { timeoutMs: 30_000, what: 'one live web task' });
  u = await uniqueAddrs(l);
  t.ok(u.unique && u.held.length === 2 + 2 + 4, `after scaling down: ${u.held.join(' ')}`);

  r = await d('service', 'rm', 'web');
  t.equal(r.code, 0, r.err);
  r = await d('network', 'rm', 'x');
  t.equal(r.code, 0, r.err);
  t.equal((await d('network', 'ls', '-q')).out.trim().split('\n').length, 1, 'ingress remains');
});
