/**
 * buildNodePlan: from objects allocated by a real store (networks, a
 * publishing service, tasks on three nodes in various states) to each node's
 * plan: served networks, local tasks with netns and MAC, remotes with their
 * underlay, services with VIPs, ports and running backends.
 */
import t from 'tap';
import { Store } from '../../src/manager/store/store.js';
import { encodeTxn, type StoreOp } from '../../src/manager/store/commands.js';
import { buildNodePlan, macOf, netnsOf } from '../../src/overlay-net/plan.js';
import type { TaskState } from '../../src/model/index.js';

const T = '2026-12-04T00:00:00Z';

t.test('macOf and netnsOf', async (t) => {
  t.equal(macOf('10.0.1.5'), '02:42:0a:00:01:05');
  t.equal(macOf('10.0.1.5/24'), '02:42:0a:00:01:05');
  t.equal(macOf('192.168.255.254'), '02:42:c0:a8:ff:fe');
  t.equal(netnsOf('abcdefghijklmnopqrstuvwxy'), 'shoal-abcdefghijkl');
});

t.test('plans of three nodes', async (t) => {
  const s = new Store();
  let i = 0;
  const run = (...ops: StoreOp[]) => {
    const r = s.apply({ index: ++i, term: 1, command: encodeTxn({ time: T, ops }) });
    if (!r.ok) throw new Error(r.message);
  };
  const node = (id: string, addr: string): StoreOp => ({ op: 'create', kind: 'node', object: { ID: id, Spec: { Role: 'worker', Availability: 'active' }, Description: { Hostname: id, Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: {}, Engine: {}, Runtimes: ['oci', 'process'] }, Status: { State: 'ready', Addr: addr } } as never });
  const task = (id: string, svc: string, nodeId: string, state: TaskState, desired: TaskState = 'running'): StoreOp => ({
    op: 'create',
    kind: 'task',
    object: { ID: id, ServiceID: svc, Slot: 1, NodeID: nodeId, Spec: {}, DesiredState: desired, Status: { Timestamp: T, State: state, Message: '' } } as never,
  });
  run({ op: 'create', kind: 'cluster', object: { ID: 'c', Spec: { Name: 'default' }, JoinTokens: { Worker: '', Manager: '' }, RootRotationInProgress: false } as never });
  run(node('A', '192.168.0.1'), node('B', '192.168.0.2'), node('C', '192.168.0.3'));
  run({ op: 'create', kind: 'network', object: { ID: 'net1', Spec: { Name: 'app', Internal: true } } as never });
  run({ op: 'create', kind: 'network', object: { ID: 'net2', Spec: { Name: 'other' } } as never });
  run({ op: 'create', kind: 'service', object: { ID: 'web', Spec: { Name: 'web', Labels: { 'com.shoal.mesh.prefer-local': 'true' }, TaskTemplate: { Networks: [{ Target: 'net1', Aliases: ['www'] }] }, Mode: { Replicated: { Replicas: 3 } }, EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }, { TargetPort: 9, PublishedPort: 9, Protocol: 'sctp' }] } } } as never });
  run({ op: 'create', kind: 'service', object: { ID: 'db', Spec: { Name: 'db', TaskTemplate: { Networks: [{ Target: 'net2' }] }, Mode: { Replicated: { Replicas: 1 } } } } as never });
  run(task('w1', 'web', 'A', 'running'), task('w2', 'web', 'B', 'starting'), task('w3', 'web', 'B', 'running', 'shutdown'), task('w4', 'web', 'C', 'failed'), task('d1', 'db', 'C', 'running'));
  const objects = { nodes: s.list('node'), networks: s.list('network'), services: s.list('service'), tasks: s.list('task') };
  const ingress = s.find('network', 'ingress')!;
  const addr = (id: string, net: string) => s.get('task', id)!.NetworksAttachments!.find((a) => a.Network.ID === net)!.Addresses[0]!.split('/')[0]!;
  const nodeAddr = (id: string, net: string) => s.get('node', id)!.ShoalAttachments!.find((a) => a.NetworkID === net)!.Addr;

  const a = buildNodePlan('A', objects);
  t.equal(a.underlayAddr, '192.168.0.1');
  t.same(a.networks.map((n) => n.id).sort(), [ingress.ID, 'net1'].sort(), 'its task’s network and ingress (web publishes)');
  t.same(a.networks.find((n) => n.id === 'net1'), { id: 'net1', name: 'app', vni: 4097, subnet: '10.0.1.0/24', gateway: '10.0.1.1', nodeAddr: nodeAddr('A', 'net1'), internal: true, ingress: false });
  t.match(a.networks.find((n) => n.ingress), { vni: 4096, subnet: '10.0.0.0/24', nodeAddr: /^10\.0\.0\.\d+$/ });
  t.same(a.tasks.map((x) => x.taskId), ['w1']);
  const w1 = a.tasks[0]!;
  t.equal(w1.netns, netnsOf('w1'));
  t.equal(w1.serviceName, 'web');
  t.same(w1.attachments.find((x) => x.networkId === 'net1'), { networkId: 'net1', addr: addr('w1', 'net1'), mac: macOf(addr('w1', 'net1')), aliases: ['www'] });
  // Remotes: B's two placed tasks (w3 still running though desired shutdown), B's and C's node addresses; not C's failed task nor db (net2 is not served).
  const remoteAddrs = a.remotes.filter((r) => r.networkId === 'net1').map((r) => `${r.addr}@${r.nodeUnderlay}`).sort();
  t.same(remoteAddrs, [`${addr('w2', 'net1')}@192.168.0.2`, `${addr('w3', 'net1')}@192.168.0.2`, `${nodeAddr('B', 'net1')}@192.168.0.2`].sort());
  t.notOk(a.remotes.some((r) => r.networkId === 'net2'));
  t.ok(a.remotes.some((r) => r.networkId === ingress.ID && r.addr === nodeAddr('C', ingress.ID) && r.nodeUnderlay === '192.168.0.3'), 'C is on ingress: the mesh is in use');
  t.same(a.services.map((x) => x.id), ['web'], 'db has no VIP on a served network');
  const web = a.services[0]!;
  t.equal(web.endpointMode, 'vip');
  t.equal(web.preferLocal, true);
  t.same(web.aliases, [{ networkId: 'net1', names: ['www'] }], "the service's network alias, for every node's resolver");
  t.same(web.ports, [{ protocol: 'tcp', targetPort: 80, publishedPort: 8080, mode: 'ingress' }], 'sctp left out');
  t.same(web.vips.map((v) => v.networkId).sort(), [ingress.ID, 'net1'].sort());
  t.ok(web.vips.every((v) => !v.addr.includes('/')), 'no prefix lengths in the plan');
  // Backends: running tasks the managers still want running (w1 on A; w3 on B is running but told to stop) on both served networks.
  t.same(web.backends.map((b) => `${b.taskId}/${b.networkId === 'net1' ? 'net1' : 'ingress'}/${b.local}`).sort(), ['w1/ingress/true', 'w1/net1/true']);

  const b = buildNodePlan('B', objects);
  t.same(b.tasks.map((x) => x.taskId), ['w2', 'w3'], 'w3 is told to stop but still running: it keeps its namespace to drain');
  t.notOk(b.services[0]!.backends.some((x) => x.taskId === 'w3'), 'and it is out of the load balancers');
  const c = buildNodePlan('C', objects);
  t.same(c.networks.map((n) => n.name).sort(), ['ingress', 'other']);
  t.same(c.services.map((x) => x.name).sort(), ['db', 'web']);
  t.same(c.services.find((x) => x.name === 'db')!.backends.map((x) => x.taskId), ['d1']);
  t.same(c.services.find((x) => x.name === 'web')!.aliases, [], 'no alias where the aliased network is not served');
  t.same(buildNodePlan('nope', objects), { nodeId: 'nope', underlayAddr: '', networks: [], tasks: [], remotes: [], services: [] });
  t.same(buildNodePlan('A', objects), a, 'pure: the same objects give the same plan');

  // A process-runtime task runs in its node's namespace: never programmed, never a backend.
  const asProcess = { ...objects, tasks: objects.tasks.map((x) => (x.ID === 'w1' ? { ...x, Spec: { ...x.Spec, Runtime: 'process' } } : x)) };
  const ap = buildNodePlan('A', asProcess);
  t.same(ap.tasks, [], 'no namespace for a process task');
  t.notOk(ap.services.some((x) => x.backends.some((b) => b.taskId === 'w1')), 'and no load balancer sends to it');
  t.notOk(buildNodePlan('B', asProcess).remotes.some((r) => r.addr === addr('w1', 'net1')), 'nor does any other node route to it');
  const nodesDefaultProcess = { ...objects, nodes: objects.nodes.map((n) => (n.ID === 'C' ? { ...n, Description: { ...n.Description, Runtimes: ['process', 'oci'] } } : n)) };
  const cp = buildNodePlan('C', nodesDefaultProcess);
  t.notOk(cp.tasks.some((x) => x.taskId === 'd1') || cp.services.some((x) => x.backends.some((b) => b.taskId === 'd1')), "a task without a runtime of its own takes its node's default (first listed)");

  // A task on no network runs in its node's namespace (the runtimes join one only for a task on a network): none is made for it.
  const offNetwork = { ...objects, tasks: objects.tasks.map((x) => (x.ID === 'w1' ? { ...x, NetworksAttachments: [] } : x)) };
  const an = buildNodePlan('A', offNetwork);
  t.same(an.tasks, [], 'no namespace for an oci task on no network');
  t.same(buildNodePlan('A', { ...objects, tasks: objects.tasks.map((x) => (x.ID === 'w1' ? (({ NetworksAttachments: _n, ...rest }) => rest)(x) : x)) }).tasks, [], 'nor without NetworksAttachments at all');
});
