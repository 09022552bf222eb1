/**
 * Process-runtime tasks as endpoints: from objects allocated by a real store
 * (a service on an oci node and a process node) to plans where the process
 * tasks are backends at their node's underlay address and host ports, the
 * nftables ruleset that DNATs to `addr . port` (checked by `nft -c` in a
 * throwaway network namespace when this runs as root), DNS `tasks.<svc>`, and
 * the environment the agent gives a process task.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { Store } from '../../src/manager/store/store.js';
import { encodeTxn, type StoreOp } from '../../src/manager/store/commands.js';
import { buildNodePlan } from '../../src/overlay-net/plan.js';
import { renderRuleset } from '../../src/overlay-net/dataplane/nft.js';
import { validatePlan } from '../../src/overlay-net/dataplane/validate.js';
import { NameTable } from '../../src/overlay-net/dns/table.js';
import { toRunSpec, withProcessNetworking } from '../../src/worker/agent/run-spec.js';
import type { NodePlan } from '../../src/overlay-net/interface.js';
import type { TaskState } from '../../src/model/index.js';

const T = '2026-12-04T00:00:00Z';

function world() {
  const s = new Store();
  let i = 0;
  const run = (...ops: StoreOp[]) => {
    const r = s.apply({ index: ++i, term: 1, command: encodeTxn({ time: T, ops }) });
    if (!r.ok) throw new Error(r.message);
  };
  const node = (id: string, addr: string, runtimes: string[]): StoreOp => ({ op: 'create', kind: 'node', object: { ID: id, Spec: { Role: 'worker', Availability: 'active' }, Description: { Hostname: id, Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: {}, Engine: {}, Runtimes: runtimes }, Status: { State: 'ready', Addr: addr } } as never });
  const task = (id: string, svc: string, nodeId: string, state: TaskState): StoreOp => ({ op: 'create', kind: 'task', object: { ID: id, ServiceID: svc, Slot: 1, NodeID: nodeId, Spec: {}, DesiredState: 'running', Status: { Timestamp: T, State: state, Message: '' } } as never });
  run({ op: 'create', kind: 'cluster', object: { ID: 'c', Spec: { Name: 'default' }, JoinTokens: { Worker: '', Manager: '' }, RootRotationInProgress: false } as never });
  run(node('A', '192.168.0.1', ['oci', 'process']), node('B', '192.168.0.2', ['process']));
  run({ op: 'create', kind: 'network', object: { ID: 'net1', Spec: { Name: 'app' } } as never });
  run({ op: 'create', kind: 'service', object: { ID: 'web', Spec: { Name: 'web', TaskTemplate: { Networks: [{ Target: 'net1' }] }, Mode: { Replicated: { Replicas: 3 } }, EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } } } as never });
  run({ op: 'create', kind: 'service', object: { ID: 'api', Spec: { Name: 'api', TaskTemplate: { Networks: [{ Target: 'net1' }] }, Mode: { Replicated: { Replicas: 1 } }, EndpointSpec: { Ports: [{ TargetPort: 9000, PublishMode: 'host', PublishedPort: 9000 }] } } } as never });
  run(task('o1', 'web', 'A', 'running'), task('p1', 'web', 'B', 'running'), task('p2', 'web', 'B', 'running'), task('p3', 'web', 'B', 'assigned'), task('a1', 'api', 'B', 'running'));
  const objects = { nodes: s.list('node'), networks: s.list('network'), services: s.list('service'), tasks: s.list('task') };
  const addr = (id: string, net: string) => s.get('task', id)!.NetworksAttachments!.find((a) => a.Network.ID === net)!.Addresses[0]!.split('/')[0]!;
  return { s, objects, addr, ingress: s.find('network', 'ingress')!.ID };
}

/** Loads a ruleset into the kernel's checker (`nft -c`) in a network namespace of its own; null when not root. */
function nftCheck(ruleset: string): string | null {
  if (process.getuid?.() !== 0) return null;
  try {
    execFileSync('unshare', ['-n', 'nft', '-c', '-f', '-'], { input: ruleset, stdio: ['pipe', 'pipe', 'pipe'] });
    return 'ok';
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err);
  }
}

t.test('plans: running process tasks are backends at their node address and host ports', async (t) => {
  const { s, objects, addr, ingress } = world();
  t.same(s.get('task', 'p1')!.Status.PortStatus!.Ports, [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 20000, PublishMode: 'host' }]);
  t.same(s.get('task', 'p2')!.Status.PortStatus!.Ports!.map((p) => p.PublishedPort), [20001]);
  const a = buildNodePlan('A', objects);
  const b = buildNodePlan('B', objects);
  validatePlan(a);
  validatePlan(b);
  const webA = a.services.find((x) => x.name === 'web')!;
  const hp = (p: number) => [{ protocol: 'tcp', targetPort: 80, port: p }];
  t.same(
    webA.backends.filter((x) => x.networkId === 'net1'),
    [
      { taskId: 'o1', networkId: 'net1', addr: addr('o1', 'net1'), local: true },
      { taskId: 'p1', networkId: 'net1', addr: '192.168.0.2', local: false, hostPorts: hp(20000) },
      { taskId: 'p2', networkId: 'net1', addr: '192.168.0.2', local: false, hostPorts: hp(20001) },
    ],
    'p3 is not running yet: no backend',
  );
  t.same(webA.backends.filter((x) => x.networkId === ingress).map((x) => x.taskId), ['o1', 'p1', 'p2'], 'on ingress too (the mesh)');
  t.notOk(a.remotes.some((r) => r.addr === addr('p1', 'net1')), 'a process task’s overlay address is never routed to');
  t.same(b.tasks, [], 'no namespace for process tasks');
  t.same(b.networks.map((n) => n.id).sort(), [ingress, 'net1'].sort(), 'B serves its process tasks’ network: they use its VIPs and resolver');
  t.ok(b.networks.find((n) => n.id === 'net1')!.nodeAddr, 'with an address of its own there');
  t.same(b.services.find((x) => x.name === 'web')!.backends.filter((x) => x.networkId === 'net1').map((x) => `${x.taskId}:${x.local}`), ['o1:false', 'p1:true', 'p2:true']);
  t.same(b.services.find((x) => x.name === 'api')!.backends.map((x) => x.hostPorts), [[{ protocol: 'tcp', targetPort: 9000, port: 9000 }]], 'host mode with a published port: that very port');

  // DNS: tasks.web lists the process tasks' node address once, beside the oci task's own.
  const names = new NameTable(a, '', { vip: 600, task: 600 });
  const scope = names.scopeOf(addr('o1', 'net1'), 'net1');
  const got = names.lookup('tasks.web', scope);
  t.ok(got.found);
  if (got.found) t.same([...got.entry.addrs].sort(), [addr('o1', 'net1'), '192.168.0.2'].sort());
  // A query from the node itself (a process task asks the gateway; the source the kernel picks is the gateway).
  const nb = new NameTable(b, '', { vip: 600, task: 600 });
  const viaGw = nb.lookup('web', nb.scopeOf(b.networks.find((n) => n.id === 'net1')!.gateway, 'net1'));
  t.ok(viaGw.found && viaGw.entry.addrs[0] === a.services.find((x) => x.name === 'web')!.vips.find((v) => v.networkId === 'net1')!.addr, 'the node’s own query sees the network’s VIPs');
});

t.test('nft: DNAT to addr . port, per declared port before the every-port rule; remote ones SNATed', async (t) => {
  const { objects, addr, s } = world();
  const a = buildNodePlan('A', objects);
  const b = buildNodePlan('B', objects);
  const vip = s.get('service', 'web')!.Endpoint!.VirtualIPs!.find((v) => v.NetworkID === 'net1')!.Addr.split('/')[0]!;
  const o1 = addr('o1', 'net1');
  const o1i = addr('o1', objects.networks.find((n) => n.Spec.Ingress)!.ID);
  const ra = renderRuleset(a);
  const lines = ra.split('\n').map((l) => l.trim());
  const perPort = lines.findIndex((l) => l.startsWith(`ip daddr ${vip} tcp dport 80 `));
  const every = lines.findIndex((l) => l.startsWith(`ip daddr ${vip} meta l4proto { tcp, udp } `));
  t.ok(perPort >= 0 && every > perPort, 'the per-port rule comes first');
  t.match(lines[perPort], `dnat ip to numgen random mod 3 map { 0 : ${o1} . 80, 1 : 192.168.0.2 . 20000, 2 : 192.168.0.2 . 20001 }`);
  t.match(lines[every], new RegExp(`dnat to ${o1.replace(/\./g, '\\.')}$`), 'other ports: the namespace task only');
  t.ok(lines.includes(`fib daddr type local tcp dport 8080 dnat ip to numgen random mod 3 map { 0 : ${o1i} . 80, 1 : 192.168.0.2 . 20000, 2 : 192.168.0.2 . 20001 }`), 'the mesh too');
  t.ok(lines.includes('ct status dnat ip daddr { 192.168.0.2 } snat to 192.168.0.1'), 'a remote host-port backend replies through this node');
  t.notOk(lines.some((l) => l.startsWith('fib daddr type local tcp dport 9000')), 'host mode: no local backend on A');

  const rb = renderRuleset(b);
  const lb = rb.split('\n').map((l) => l.trim());
  t.notOk(lb.some((l) => l.startsWith('ct status dnat ip daddr {')), 'local host-port backends need no SNAT (the connection ends in this stack)');
  t.ok(lb.includes('fib daddr type local tcp dport 9000 dnat to 192.168.0.2:9000'), 'host mode on B: its own task');
  const gw = b.networks.find((n) => n.id === 'net1')!;
  t.ok(lb.some((l) => l.includes(`ip saddr { 127.0.0.0/8, ${gw.gateway}, `) && l.includes(vip) && l.endsWith(`snat to ${gw.nodeAddr}`)), 'the node’s own connections to a VIP leave with its network address');

  // Only host-port backends: the VIP's other ports are refused, not answered by the node's own stack.
  const onlyProc: NodePlan = { ...b, services: b.services.map((x) => ({ ...x, backends: x.backends.filter((y) => y.hostPorts) })) };
  const ro = renderRuleset(onlyProc).split('\n').map((l) => l.trim());
  t.ok(ro.includes(`ip daddr ${vip} meta l4proto tcp reject with tcp reset`));
  t.ok(ro.some((l) => l.startsWith(`ip daddr ${vip} tcp dport 80 `) && l.endsWith('dnat ip to numgen random mod 2 map { 0 : 192.168.0.2 . 20000, 1 : 192.168.0.2 . 20001 }')));
  t.notOk(ro.some((l) => l.startsWith(`ip daddr ${vip} meta l4proto { tcp, udp }`)));

  for (const [name, r] of [['A', ra], ['B', rb], ['process only', renderRuleset(onlyProc)]] as const) {
    const c = nftCheck(r);
    if (c === null) t.pass('nft -c needs root: not checked here');
    else t.equal(c, 'ok', `nft accepts ${name}'s ruleset`);
  }
});

t.test('a process task’s environment: SHOAL_PORT_<target>, PORT, SHOAL_DNS', async (t) => {
  const { s } = world();
  s.apply({ index: 100, term: 1, command: encodeTxn({ time: T, ops: [{ op: 'create', kind: 'service', object: { ID: 'two', Spec: { Name: 'two', TaskTemplate: { Networks: [{ Target: 'net1' }] }, Mode: { Replicated: { Replicas: 1 } }, EndpointSpec: { Ports: [{ TargetPort: 53, Protocol: 'udp' }, { TargetPort: 53, Protocol: 'tcp' }, { TargetPort: 8443 }] } } } as never }, { op: 'create', kind: 'task', object: { ID: 'x1', ServiceID: 'two', Slot: 1, NodeID: 'B', Spec: { ContainerSpec: { Image: '/bin/sh', Env: ['A=1'] } }, DesiredState: 'running', Status: { Timestamp: T, State: 'assigned', Message: '' } } as never }] }) });
  const task = s.get('task', 'x1')!;
  const env = withProcessNetworking(toRunSpec(task), task).env;
  t.same(env, ['A=1', 'PORT=20003', 'SHOAL_PORT_53=20003', 'SHOAL_PORT_8443=20004', 'SHOAL_DNS=10.0.1.1'], 'one per target port (p1-p3 hold 20000-20002), the first as PORT; the first non-ingress network’s gateway');
  t.same(withProcessNetworking(toRunSpec(task), task, { resolver: false }).env, ['A=1', 'PORT=20003', 'SHOAL_PORT_53=20003', 'SHOAL_PORT_8443=20004'], 'no data plane on the node: no SHOAL_DNS');
  const plain = s.get('task', 'o1')!;
  t.same(withProcessNetworking(toRunSpec(plain), { ...plain, NetworksAttachments: [] }).env, [], 'nothing to add: nothing added');
});
