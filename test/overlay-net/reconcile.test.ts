/**
 * The kernel half's pure parts, without root: plan validation (nothing
 * malformed reaches a command line), the diff from observed state to batch
 * commands (an unchanged plan costs nothing, a change costs only itself),
 * the nftables rendering, and the apply loop over a recording runner
 * (spawn counts, the rules-only fast path, failures reported and repaired).
 */
import t from 'tap';
import type { NodePlan } from '../../src/overlay-net/interface.js';
import { isDataPlaneError } from '../../src/overlay-net/dataplane/errors.js';
import { KernelDataPlane } from '../../src/overlay-net/dataplane/kernel.js';
import { bridgeName, macForAddr, vethName, vxlanName } from '../../src/overlay-net/dataplane/names.js';
import { renderRuleset } from '../../src/overlay-net/dataplane/nft.js';
import type { Observed, ObservedLink } from '../../src/overlay-net/dataplane/observe.js';
import { reconcile } from '../../src/overlay-net/dataplane/reconcile.js';
import type { CommandRunner, RunResult, Tool } from '../../src/overlay-net/dataplane/runner.js';
import { validatePlan } from '../../src/overlay-net/dataplane/validate.js';

const base = (): NodePlan => ({
  nodeId: 'n1',
  underlayAddr: '192.0.2.1',
  networks: [{ id: 'app', name: 'appnet', vni: 42, subnet: '10.9.0.0/24', gateway: '10.9.0.1', nodeAddr: '10.9.0.2', internal: false, ingress: true }],
  tasks: [{ taskId: 't1', netns: 'task-1', serviceName: 'web', attachments: [{ networkId: 'app', addr: '10.9.0.10', mac: macForAddr('10.9.0.10'), aliases: [] }] }],
  remotes: [{ networkId: 'app', addr: '10.9.0.20', mac: macForAddr('10.9.0.20'), nodeUnderlay: '192.0.2.2' }],
  services: [
    {
      id: 's', name: 'web', endpointMode: 'vip', vips: [{ networkId: 'app', addr: '10.9.0.100' }], ports: [{ protocol: 'tcp', targetPort: 80, publishedPort: 8080, mode: 'ingress' }], preferLocal: false, aliases: [{ networkId: 'app', names: ['www'] }],
      backends: [
        { taskId: 't1', networkId: 'app', addr: '10.9.0.10', local: true },
        { taskId: 't2', networkId: 'app', addr: '10.9.0.20', local: false },
      ],
    },
  ],
});

/** The kernel exactly as `base()` leaves it (what observe() would read back). */
function observedOf(plan: NodePlan, mtu = 1450): Observed {
  const link = (name: string, kind: string, extra: Partial<ObservedLink> = {}): [string, ObservedLink] => [name, { name, kind, master: null, mtu, mac: '', up: true, addrs: [], vxlan: null, hairpin: false, ...extra }];
  const net = plan.networks[0];
  const veth = vethName('task-1', 'app', '10.9.0.10', macForAddr('10.9.0.10'));
  return {
    links: new Map([
      link(bridgeName(42), 'bridge', { mac: macForAddr(net.nodeAddr), addrs: ['10.9.0.1/24', '10.9.0.2/32', '10.9.0.100/32'] }),
      link(vxlanName(42), 'vxlan', { master: bridgeName(42), vxlan: { id: 42, local: plan.underlayAddr, port: 4789, learning: false, proxy: true } }),
      link(veth, 'veth', { master: bridgeName(42), hairpin: true }),
    ]),
    allLinks: [{ name: 'eth0', mtu: 1500, addrs: ['192.0.2.1/24'] }],
    neigh: new Map([[`${vxlanName(42)} 10.9.0.20`, macForAddr('10.9.0.20')]]),
    fdb: new Map([[`${vxlanName(42)} ${macForAddr('10.9.0.20')}`, '192.0.2.2']]),
    netns: new Set(['task-1']),
  };
}

t.test('validation refuses what could inject or mislead a command', async (t) => {
  const cases: [string, (p: NodePlan) => void][] = [
    ['netns with a space', (p) => (p.tasks[0].netns = 'a b')],
    ['netns with a newline', (p) => (p.tasks[0].netns = 'x\nlink del eth0')],
    ['alias with a semicolon', (p) => (p.tasks[0].attachments[0].aliases = ['a;b'])],
    ['service alias with a semicolon', (p) => (p.services[0].aliases[0].names = ['a;b'])],
    ['service alias on an unknown network', (p) => (p.services[0].aliases[0].networkId = 'nope')],
    ['service name with a brace', (p) => (p.services[0].name = 'web}')],
    ['address outside its subnet', (p) => (p.tasks[0].attachments[0].addr = '10.8.0.10')],
    ['not an address', (p) => (p.remotes[0].nodeUnderlay = '192.0.2.1 dev lo')],
    ['a bad MAC', (p) => (p.remotes[0].mac = '02:42:zz:00:00:01')],
    ['VNI 0', (p) => (p.networks[0].vni = 0)],
    ['VNI over 24 bits', (p) => (p.networks[0].vni = 1 << 24)],
    ['an unknown network', (p) => (p.services[0].vips[0].networkId = 'nope')],
    ['port 0', (p) => (p.services[0].ports[0].publishedPort = 0)],
    ['an unknown protocol', (p) => ((p.services[0].ports[0] as { protocol: string }).protocol = 'sctp; flush ruleset')],
    ['the gateway as nodeAddr', (p) => (p.networks[0].nodeAddr = '10.9.0.1')],
  ];
  for (const [what, mutate] of cases) {
    const p = base();
    mutate(p);
    t.throws(() => validatePlan(p), { code: 'INVALID_PLAN' }, what);
  }
  t.doesNotThrow(() => validatePlan(base()), 'the base plan is valid');
  const upper = base();
  upper.remotes[0].mac = upper.remotes[0].mac.toUpperCase();
  t.doesNotThrow(() => validatePlan(upper), 'MACs in upper case are fine');
});

t.test('reconcile: from nothing, everything; over itself, nothing', async (t) => {
  const plan = base();
  const empty: Observed = { links: new Map(), allLinks: [], neigh: new Map(), fdb: new Map(), netns: new Set() };
  const r = reconcile(plan, empty, { mtu: 1450, ownedNetns: new Set() });
  const ip = r.ip.join('\n');
  t.match(ip, /link add name shbr42 address 02:42:0a:09:00:02 mtu 1450 type bridge/);
  t.match(ip, /link add name shvx42 mtu 1450 type vxlan id 42 local 192\.0\.2\.1 dstport 4789 nolearning proxy/);
  t.match(ip, /link set dev shvx42 master shbr42 up/);
  for (const a of ['10.9.0.1/24', '10.9.0.2/32', '10.9.0.100/32']) t.match(ip, `addr replace ${a} dev shbr42`);
  t.match(ip, /neigh replace 10\.9\.0\.20 lladdr 02:42:0a:09:00:14 dev shvx42 nud permanent/);
  t.match(ip, /netns add task-1/);
  t.match(ip, /type veth peer name eth0 address 02:42:0a:09:00:0a mtu 1450 netns task-1/);
  t.match(ip, /bridge_slave hairpin on/);
  t.ok(ip.indexOf('netns add task-1') < ip.indexOf('peer name eth0'), 'the namespace exists before its veth');
  t.same(r.bridge, ['fdb replace 02:42:0a:09:00:14 dev shvx42 dst 192.0.2.2 self permanent']);
  t.same(r.tasks.map((x) => x.netns), ['task-1']);
  t.same(r.tasks[0].lines, ['link set dev lo up', 'addr replace 10.9.0.10/24 dev eth0', 'link set dev eth0 up', 'route replace default via 10.9.0.1']);
  t.same([...r.ownedNetns], ['task-1']);

  const again = reconcile(plan, observedOf(plan), { mtu: 1450, ownedNetns: new Set(['task-1']) });
  t.same([again.ip, again.bridge, again.tasks], [[], [], []], 'the kernel already matches: no command at all');
});

t.test('reconcile: a change costs only itself', async (t) => {
  const plan = base();
  const seen = observedOf(plan);
  const gone = { ...plan, remotes: [], tasks: [] };
  const r = reconcile(gone, seen, { mtu: 1450, ownedNetns: new Set(['task-1']) });
  t.same(r.ip, [`link del dev ${vethName('task-1', 'app', '10.9.0.10', macForAddr('10.9.0.10'))}`, 'netns del task-1', 'neigh del 10.9.0.20 dev shvx42']);
  t.same(r.bridge, ['fdb del 02:42:0a:09:00:14 dev shvx42 self']);
  const notOurs = reconcile(gone, seen, { mtu: 1450, ownedNetns: new Set() });
  t.notOk(notOurs.ip.includes('netns del task-1'), 'a namespace we do not own is never deleted');

  const moved = { ...plan, underlayAddr: '192.0.2.9' };
  const m = reconcile(moved, seen, { mtu: 1450, ownedNetns: new Set(['task-1']) });
  t.match(m.ip.join('\n'), /link del dev shvx42\nlink add name shvx42 .* local 192\.0\.2\.9 /, 'a VXLAN device with the wrong source is remade…');
  t.match(m.ip.join('\n'), /neigh replace 10\.9\.0\.20/, '…with its neighbours');
  t.same(m.bridge, ['fdb replace 02:42:0a:09:00:14 dev shvx42 dst 192.0.2.2 self permanent'], '…and its FDB');

  const noVip = { ...plan, services: [] };
  t.same(reconcile(noVip, seen, { mtu: 1450, ownedNetns: new Set(['task-1']) }).ip, ['addr del 10.9.0.100/32 dev shbr42'], 'a VIP gone: its address goes');
  const noNet = { ...plan, networks: [], tasks: [], remotes: [], services: [] };
  const n = reconcile(noNet, seen, { mtu: 1450, ownedNetns: new Set(['task-1']) });
  t.ok(n.ip.indexOf('link del dev shvx42') < n.ip.indexOf('link del dev shbr42'), 'a network gone: VXLAN, then bridge');
});

t.test('nftables rendering', async (t) => {
  const plan = base();
  let rs = renderRuleset(plan);
  t.match(rs, /ip daddr 10\.9\.0\.100 meta l4proto \{ tcp, udp \} meta mark set meta mark \| 0x10000000 dnat to numgen random mod 2 map \{ 0 : 10\.9\.0\.10, 1 : 10\.9\.0\.20 \}/, 'VIP: random pick among every backend');
  t.match(rs, /fib daddr type local tcp dport 8080 dnat to numgen random mod 2 map \{ 0 : 10\.9\.0\.10, 1 : 10\.9\.0\.20 \}:80/, 'mesh: every backend on the ingress network');
  t.match(rs, /oifname "shbr42" ct status dnat ip daddr != \{ 10\.9\.0\.10 \} snat to 10\.9\.0\.2/, 'mesh to a remote backend: SNAT; to a local one: not');
  t.match(rs, /^flush chain ip shoal to_backend$/m, 'refilled, not deleted');
  t.notMatch(rs, /delete table/);
  plan.services[0].preferLocal = true;
  t.match(renderRuleset(plan), /fib daddr type local tcp dport 8080 dnat to 10\.9\.0\.10:80/, 'preferLocal: only the local backend');
  plan.services[0].ports[0].mode = 'host';
  plan.services[0].preferLocal = false;
  t.match(renderRuleset(plan), /fib daddr type local tcp dport 8080 dnat to 10\.9\.0\.10:80/, 'mode host: only the local backend');
  t.notMatch(rs, /iifname "shbr42" oifname != "shbr42" drop/, 'a routed network is not isolated');
  const internal = base();
  internal.networks[0].internal = true;
  t.match(renderRuleset(internal), /iifname "shbr42" oifname != "shbr42" drop\n\s+oifname "shbr42" iifname != "shbr42" drop/, 'an internal network: nothing routed in or out');
  plan.services[0].backends = [];
  rs = renderRuleset(plan);
  t.match(rs, /ip daddr 10\.9\.0\.100 meta l4proto tcp reject with tcp reset/, 'a VIP without backends refuses at once');
  t.notMatch(rs, /dport 8080/, 'a published port without backends is closed');
});

/** Answers observe() with the kernel of `base()`, records every batch. */
class Recorder implements CommandRunner {
  calls: { tool: Tool; args: string[]; input: string }[] = [];
  failNext: Tool | null = null;
  constructor(private readonly seen: () => Observed) {}
  async run(tool: Tool, args: string[], input = ''): Promise<RunResult> {
    this.calls.push({ tool, args, input });
    if (this.failNext === tool && args.includes('-batch') && !args.includes('-j')) {
      this.failNext = null;
      return { code: 1, stdout: '', stderr: 'RTNETLINK answers: File exists' };
    }
    const o = this.seen();
    if (tool === 'ip' && args.includes('-j')) {
      const links = [...o.links.values()].map((l) => ({ ifname: l.name, mtu: l.mtu, address: l.mac, master: l.master ?? undefined, flags: l.up ? ['UP'] : [], linkinfo: { info_kind: l.kind, info_data: l.vxlan ?? undefined, info_slave_data: { hairpin: l.hairpin } }, addr_info: l.addrs.map((a) => ({ family: 'inet', local: a.split('/')[0], prefixlen: Number(a.split('/')[1]) })) }));
      const neigh = [...o.neigh].map(([k, mac]) => ({ dev: k.split(' ')[0], dst: k.split(' ')[1], lladdr: mac }));
      return { code: 0, stdout: `${JSON.stringify(links)}\n${JSON.stringify(neigh)}\n`, stderr: '' };
    }
    if (tool === 'bridge' && args.includes('-j')) return { code: 0, stdout: JSON.stringify([...o.fdb].map(([k, dst]) => ({ ifname: k.split(' ')[0], mac: k.split(' ')[1], dst, flags: ['self'] }))), stderr: '' };
    return { code: 0, stdout: '', stderr: '' };
  }
}

t.test('the apply loop over a recording runner', async (t) => {
  const plan = base();
  const procSys = t.testdir({ net: { ipv4: { ip_forward: '1', conf: { shbr42: { route_localnet: '1' } } } } });
  const rec = new Recorder(() => ({ ...observedOf(plan), netns: new Set() }));
  const dp = new KernelDataPlane({ runner: rec, procSys, underlayMtu: 1500 });
  // The runner reports no task netns (listNetns reads /run/netns): the plan's one is "added" the first time.
  await dp.apply(plan);
  t.equal(rec.calls[0].tool, 'nft', 'rules go first (a removed backend stops at once)');
  t.same(rec.calls.slice(1, 3).map((c) => c.tool).sort(), ['bridge', 'ip'], 'then one read of each kind');

  rec.calls = [];
  const fewer = { ...plan, services: [{ ...plan.services[0], backends: plan.services[0].backends.slice(0, 1) }] };
  await dp.apply(fewer);
  t.same(rec.calls.map((c) => c.tool), ['nft'], 'only the backends changed: one spawn');
  t.equal(dp.metrics.fastApplies, 1);
  t.match(rec.calls[0].input, /dnat to 10\.9\.0\.10$/m);

  rec.calls = [];
  const moreTasks = { ...fewer, remotes: [...fewer.remotes, { networkId: 'app', addr: '10.9.0.21', mac: macForAddr('10.9.0.21'), nodeUnderlay: '192.0.2.3' }] };
  rec.failNext = 'ip';
  const err = await dp.apply(moreTasks).then(() => null, (e: unknown) => e);
  t.ok(isDataPlaneError(err, 'COMMAND_FAILED'), 'a failed batch rejects the apply, typed');
  t.ok((err as { retryable: boolean }).retryable, '…as retryable');
  t.match((err as Error).message, /File exists/, '…with the tool\'s stderr');
  rec.calls = [];
  await dp.apply(moreTasks);
  t.ok(rec.calls.some((c) => c.tool === 'ip' && c.args.includes('-j')), 'after a failure the next apply reads the kernel again');
  t.ok(rec.calls.some((c) => c.input.includes('neigh replace 10.9.0.21')), 'and makes what is missing');
});

t.test("a runtime's namespace (docker's sandbox) is programmed once it exists, never made or owned before", async (t) => {
  const plan = base();
  plan.tasks[0].runtimeNetns = true;
  const empty: Observed = { links: new Map(), allLinks: [{ name: 'eth0', mtu: 1500, addrs: ['192.0.2.1/24'] }], neigh: new Map(), fdb: new Map(), netns: new Set() };
  const before = reconcile(plan, empty, { mtu: 1450, ownedNetns: new Set() });
  t.notOk(before.ip.some((l) => /^netns add/.test(l)), 'no netns add for it');
  t.notOk(before.ip.some((l) => l.includes('netns task-1')), 'no veth into it yet');
  t.equal(before.tasks.length, 0, 'nothing inside it yet');
  t.equal(before.pendingNetns, 1, 'it is pending');
  t.notOk(before.ownedNetns.has('task-1'), 'and not owned');
  // The runtime bound it: the next apply puts the task's interface in and owns the binding.
  const bound: Observed = { ...empty, netns: new Set(['task-1']) };
  const after = reconcile(plan, bound, { mtu: 1450, ownedNetns: new Set() });
  t.ok(after.ip.some((l) => /^link add name shv\S+ .* peer name eth0 .* netns task-1$/.test(l)), 'the veth goes into it');
  t.match(after.tasks[0]?.lines ?? [], ['link set dev lo up', 'addr replace 10.9.0.10/24 dev eth0'], 'its address is set inside');
  t.equal(after.pendingNetns, 0);
  t.ok(after.ownedNetns.has('task-1'), 'owned: dropped when the task leaves the plan');
  t.notOk(after.ip.some((l) => /^netns add/.test(l)), 'still never made here');
  plan.tasks = [];
  t.ok(reconcile(plan, bound, { mtu: 1450, ownedNetns: after.ownedNetns }).ip.includes('netns del task-1'), 'the binding goes with the task');
});
